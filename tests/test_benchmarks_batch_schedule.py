"""The batching simulation: editbench's own rules, workers whose batches cost a decode each."""

from __future__ import annotations

import pytest

from benchmarks import batch_schedule

DECODE = (64, 37.0, 0.7)  # batch size; s per batch; s per request (the 8B judge, 512 tokens)


@pytest.mark.parametrize(("requests", "workers"), [(48, 1), (96, 2), (512, 4), (900, 2)])
def test_whole_batches_end_decode_bound_work_sooner_than_the_ramp_and_the_share(
    requests: int, workers: int
) -> None:
    starts = [float(i) for i in range(workers)]
    whole, batches = batch_schedule.phase_seconds(
        batch_schedule.RULES["whole"], requests, starts, *DECODE
    )
    cut, cut_batches = batch_schedule.phase_seconds(
        batch_schedule.RULES["cut"], requests, starts, *DECODE
    )
    assert whole < cut, (whole, cut)
    assert sum(batches) == -(-requests // 64) < sum(cut_batches)  # the fewest batches
    assert whole >= batch_schedule.lower_bound(requests, workers, *DECODE)


def test_a_long_run_ends_near_the_lower_bound() -> None:
    bound = batch_schedule.lower_bound(900, 4, *DECODE)
    whole, batches = batch_schedule.phase_seconds(
        batch_schedule.RULES["whole"], 900, [0.0, 1.0, 2.0, 3.0], *DECODE
    )
    assert bound <= whole <= 1.08 * bound
    assert max(batches) - min(batches) <= 1


def test_the_table_has_a_row_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    batch_schedule.main(["--requests", "96", "900", "--workers", "1", "2"])
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == 2 + 4
    assert rows[2].startswith("| 96 | 1 | 141 |")
