"""editbench's Hydra configs, shipped as the package ``editbench.conf`` (see pyproject.toml).

Hydra reads them as ``pkg://editbench.conf``; a pkg:// source needs this file to exist."""
