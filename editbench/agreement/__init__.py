"""How far a judge's scores can be trusted: their agreement with people, and with other judges.

Judge vs people: per category, per criterion and overall, Spearman's rho, Kendall's tau-b and
the pairwise accuracy of the judge's scores against the raters' mean, each with a seeded
bootstrap 95% interval; beside them the raters' agreement with each other (Krippendorff's
alpha, and each rater against the mean of the others), the ceiling a judge can reach. Pairwise
preferences of people give the judge's preference accuracy. Judge vs judge: several runs over
the same edits, by Krippendorff's alpha and the Spearman of each pair, with the categories and
samples where they disagree most.

``python -m editbench.agreement RUN [RUN...] --human FILE`` writes agreement.json,
agreement.md and agreement.html, and logs the figures to each run's MLflow run. The method is
in docs/agreement.md.
"""

from editbench.agreement.outputs import write_agreement
from editbench.agreement.ratings import read_human
from editbench.agreement.report import agreement_report

__all__ = ["agreement_report", "read_human", "write_agreement"]
