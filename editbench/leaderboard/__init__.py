"""Rank many runs' editors: per category and overall, with 95% intervals and rank intervals.

An entry is one editor (its fingerprint, read from the store's records of the run's edits) ×
judge × protocol; runs of one entry that share no sample (shards) are merged. Entries judged
by one judge under one protocol are ranked together, by the figure the benchmark publishes
(mean of category means, mean over samples, or pooled mean), on the samples that every entry
judged; a paired bootstrap of those samples gives each rank its 95% interval, so a reader sees
how sure second place is. Entries that judged different samples are marked, with their counts.

``python -m editbench.leaderboard RUN...`` takes run folders or MLflow run ids and writes
leaderboard.json, leaderboard.md and leaderboard.html (the table and an N-way gallery: each
sample with every entry's edit side by side); a sweep's MLflow parent run gets the same files.
"""

from editbench.leaderboard.board import Leaderboard, build_leaderboard
from editbench.leaderboard.outputs import FILES, log_leaderboard, write_leaderboard
from editbench.leaderboard.runs import FinishedRun, load_finished_run
from editbench.leaderboard.tables import format_markdown, format_table

__all__ = [
    "FILES",
    "FinishedRun",
    "Leaderboard",
    "build_leaderboard",
    "format_markdown",
    "format_table",
    "load_finished_run",
    "log_leaderboard",
    "write_leaderboard",
]
