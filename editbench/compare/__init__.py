"""Compare two runs sample by sample: how much, and how surely, B scores above or below A.

Only runs judged by the same protocol are compared. Only samples that both runs judged ``ok``
are paired (matched by sample id); a sample judged by one run alone is counted, never
compared. Per category, the difference is that of its figure over its shared samples: the mean
score, or, where the benchmark publishes pooled figures (KRIS-Bench), the mean of every
criterion value pooled over the samples; with a paired bootstrap 95% interval and p-value (each
resample takes the same samples from both runs).

**Overall** is the difference of the figure the benchmark publishes (results.json's headline),
over the shared samples: the mean over categories (those with shared samples) of the
per-category differences, so that every category weighs the same however many samples it has,
with a stratified paired bootstrap (each category's pairs resampled on their own); or the
difference of the mean over samples, or of the pooled mean, resampling the samples. Each
**criterion** (VIEScore's SC, PQ and their parts, ...) is compared the same way on the rows'
criteria, per category and overall as the mean of category differences (results.json's overall
criteria); each **subset** the benchmark publishes by its overall figure over its samples.
The samples left out are counted per failure status (``edit_error``, ``judge_error``, ...),
and those judged ok by one run only are listed with the other run's status and error.

``python -m editbench.compare RUN_A RUN_B`` takes run folders or MLflow run ids, prints a table
and writes comparison.json, comparison.md and comparison.html.
"""

from editbench.compare.differences import compare_loaded_runs, compare_runs
from editbench.compare.outputs import log_comparison, write_comparison
from editbench.compare.sources import LoadedRun, load_run
from editbench.compare.tables import format_markdown, format_table

__all__ = [
    "LoadedRun",
    "compare_loaded_runs",
    "compare_runs",
    "format_markdown",
    "format_table",
    "load_run",
    "log_comparison",
    "write_comparison",
]
