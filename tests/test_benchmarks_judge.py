"""The full-size judge benchmark's code path, on the tiny configs (the CPU run of the script)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import judge_full_size
from benchmarks.qwen3_vl_models import RandomWeightsQwen3VLJudge, write_checkpoint
from editbench.tiny.tokenizer import build_qwen_tokenizer


def test_tiny_run_times_both_paths_on_one_judge(tmp_path: Path) -> None:
    judge_full_size.main(["--tiny", "--models", "qwen3-vl-8b", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "judge_full_size.json").read_text())
    (result,) = report["results"]
    assert "error" not in result, result
    assert result["batch_size"] == 8 and result["batch_size_chosen"] == "auto"  # CPU: no fit
    for key in ("bare", "editbench", "serial", "bare_1img"):
        assert result[f"{key}_img_per_s"] > 0
    assert result["image_tokens_per_request"] == 128  # two 256² images, 64 tokens each
    assert 350 <= result["text_tokens_per_request"] <= 450
    # editbench's judge read the same model as the bare forward (same rows, same digits).
    assert result["max_abs_diff_digit_probs"] < 0.02


def test_random_weights_judge_builds_the_checkpoint_architecture(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path, "qwen3-vl-30b-a3b", build_qwen_tokenizer(), tiny_size=True)
    judge = RandomWeightsQwen3VLJudge(str(folder), dtype="float32")
    judge.load(["cpu"])
    assert type(judge._model).__name__ == "Qwen3VLMoeForConditionalGeneration"
    assert judge._model.dtype.is_floating_point and str(judge._model.device) == "cpu"
    assert all(p.abs().sum() > 0 for n, p in judge._model.named_parameters() if p.dim() > 1)
