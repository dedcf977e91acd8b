"""The one check of the settings every judge takes.

The config schema already rejects a value outside a choice when the config is composed; a judge
built without Hydra (as the tests and benchmarks build them) gets the same values checked here.
"""

from __future__ import annotations

import math

from editbench.choices import Reduction, ScoreMode
from editbench.errors import EditbenchError


def check_judge_settings(
    *,
    score_mode: str,
    reduce: str,
    num_samples: int,
    temperature: float,
    max_pixels: int | None,
) -> None:
    """Check the settings that every judge takes; raises :class:`EditbenchError` naming the
    setting, its value and what is allowed."""
    if score_mode not in ScoreMode.values():
        raise EditbenchError(f"score_mode={score_mode!r}; expected one of {ScoreMode.values()}")
    if reduce not in Reduction.values():
        raise EditbenchError(f"reduce={reduce!r}; expected one of {Reduction.values()}")
    if num_samples < 1:
        raise EditbenchError(f"num_samples must be at least 1, got {num_samples!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise EditbenchError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if num_samples > 1 and temperature == 0:
        raise EditbenchError(
            f"num_samples={num_samples} needs temperature > 0, got temperature={temperature}:"
            " greedy samples are identical and would fake a spread of zero"
        )
    if max_pixels is not None and max_pixels < 1:
        raise EditbenchError(
            f"max_pixels must be a positive pixel count or null, got {max_pixels!r}"
        )
