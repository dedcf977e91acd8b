"""Compare two runs sample by sample: how much, and how surely, B scores above or below A.

Only samples that both runs judged ``ok`` are paired (matched by sample id); a sample judged
by one run alone is counted, never compared. Per category, the difference is the mean of
``score_B - score_A`` over its shared samples, with a paired bootstrap 95% interval and p-value.
**Overall** is the mean over categories (those with shared samples) of the per-category
differences, i.e. ``mean_of_categories`` of B minus that of A, both over the shared samples, as
in results.json; so every category weighs the same however many samples it has. Its interval
is a stratified paired bootstrap: each category's pairs are resampled on their own.

``python -m editbench.compare RUN_A RUN_B`` takes run folders or MLflow run ids, prints a table
and writes comparison.json, comparison.md and comparison.html.
"""

from editbench.compare.differences import compare_runs
from editbench.compare.outputs import (
    format_markdown,
    format_table,
    log_comparison,
    write_comparison,
)
from editbench.compare.sources import LoadedRun, load_run

__all__ = [
    "LoadedRun",
    "compare_runs",
    "format_markdown",
    "format_table",
    "load_run",
    "log_comparison",
    "write_comparison",
]
