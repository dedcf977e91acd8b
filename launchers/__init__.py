"""Hydra launcher examples (``hydra/launcher=slurm|local``), shipped as ``editbench.launchers``.

conf/config.yaml puts ``pkg://editbench.launchers`` on Hydra's search path; a pkg:// source needs
this file to exist."""
