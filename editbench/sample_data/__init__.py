"""The sample benchmark shipped with editbench; `generate.py` rebuilds it."""
