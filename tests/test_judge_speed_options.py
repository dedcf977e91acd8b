"""The judge's speed options: batch sizes remembered between runs, the one-forward score
distribution, and compile=true in the fingerprint."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image
from transformers import BatchFeature, LogitsProcessor, LogitsProcessorList

from editbench.judges import batch_memory
from editbench.judges.qwen3_vl import Qwen3VLJudge, _with_token_appended
from editbench.records import JudgeRequest
from editbench.tiny import ensure_tiny_model

KEY = {"judge": {"model": "m"}, "devices": [["H200", 150]], "pixels": 2_097_152}


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITBENCH_CACHE", str(tmp_path / "cache"))


@pytest.mark.usefixtures("own_cache")
def test_a_fitted_batch_size_is_recalled_with_as_much_memory_free():
    assert batch_memory.recall(KEY, free_bytes=100) is None
    batch_memory.remember(KEY, 48, free_bytes=100)
    assert batch_memory.recall(KEY, free_bytes=100).batch_size == 48
    assert batch_memory.recall(KEY, free_bytes=98).batch_size == 48  # within the slack
    assert batch_memory.recall(KEY, free_bytes=90) is None  # less free: fit again
    assert batch_memory.recall({**KEY, "pixels": 1}, free_bytes=100) is None


@pytest.mark.usefixtures("own_cache")
def test_a_size_that_ran_out_of_memory_is_remembered_lower():
    batch_memory.remember(KEY, 48, free_bytes=100)
    batch_memory.remember(KEY, 38, free_bytes=100)
    assert batch_memory.recall(KEY, free_bytes=100).batch_size == 38


@pytest.mark.usefixtures("own_cache")
@pytest.mark.parametrize("content", ["", "{", "[]", '{"key": {}, "batch_size": 4}', "\xff"])
def test_a_damaged_memory_costs_a_fit_and_nothing_else(content):
    batch_memory.remember(KEY, 48, free_bytes=100)
    path = next((batch_memory.cache_dir("batch-sizes")).glob("*.json"))
    path.write_text(content, encoding="latin-1")
    assert batch_memory.recall(KEY, free_bytes=100) is None


@pytest.mark.usefixtures("own_cache")
def test_a_stored_size_under_another_key_is_not_taken():
    batch_memory.remember(KEY, 48, free_bytes=100)
    path = next((batch_memory.cache_dir("batch-sizes")).glob("*.json"))
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "key": {"judge": "other"}}))
    assert batch_memory.recall(KEY, free_bytes=100) is None


def test_a_memory_that_cannot_be_written_costs_a_fit(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("EDITBENCH_CACHE", str(tmp_path / "file"))
    batch_memory.remember(KEY, 48, free_bytes=100)  # logs, does not raise
    assert batch_memory.recall(KEY, free_bytes=100) is None


def test_the_appended_token_is_attended_and_marked_as_text():
    inputs = BatchFeature(
        {
            "input_ids": torch.tensor([[0, 5, 6], [7, 8, 9]]),
            "attention_mask": torch.tensor([[0, 1, 1], [1, 1, 1]]),
            "mm_token_type_ids": torch.tensor([[0, 1, 0], [1, 0, 0]]),
            "pixel_values": torch.ones(8, 3),
        }
    )
    grown = _with_token_appended(inputs, 16)
    assert grown["input_ids"].tolist() == [[0, 5, 6, 16], [7, 8, 9, 16]]
    assert grown["attention_mask"][:, -1].tolist() == [1, 1]
    assert grown["mm_token_type_ids"][:, -1].tolist() == [0, 0]
    assert torch.equal(grown["pixel_values"], inputs["pixel_values"])


def test_compile_is_keyed_only_when_set():
    eager = Qwen3VLJudge(model="m").fingerprint()
    assert "compile" not in json.dumps(eager)  # an eager judge keeps the keys it always had
    assert Qwen3VLJudge(model="m", compile=True).fingerprint() != eager


class ForceToken(LogitsProcessor):
    """Makes ``token`` the only possible next token: the two-step generate the judge used."""

    def __init__(self, token: int) -> None:
        self.token = token

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        forced = torch.full_like(scores, -math.inf)
        forced[:, self.token] = 0
        return forced


@pytest.mark.parametrize("name", ["qwen3_vl", "qwen3_vl_moe"])
def test_one_forward_gives_the_distribution_two_generate_steps_gave(name, tmp_path):
    judge = Qwen3VLJudge(model=ensure_tiny_model(name), dtype="float32", batch_size=4)
    judge.load(["cpu"])
    images = []
    for i, size in enumerate([(200, 120), (64, 300), (48, 48)]):
        images.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", size, (40 * i, 200 - 30 * i, 90)).save(images[-1])
    batch = [
        JudgeRequest(
            messages=[
                {"role": "system", "content": [{"type": "text", "text": "Rate the edit."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "image": image},
                        {"type": "text", "text": f"Instruction {i}: " + "more " * i},
                    ],
                },
            ]
        )
        for i, image in enumerate(images)
    ]
    texts = ["Score: "] * len(batch)
    ours = judge._score_distributions(batch, texts)

    inputs = judge._inputs(batch, texts)
    one, zero = judge._digit_ids[1], judge._digit_ids[0]
    output = judge._model.generate(
        **inputs,
        do_sample=False,
        max_new_tokens=2,
        logits_processor=LogitsProcessorList([ForceToken(one)]),
        output_logits=True,
        return_dict_in_generate=True,
    )
    first, after_one = (logits.double() for logits in output.logits)
    digits = first[:, judge._digit_ids].softmax(-1)
    q = after_one.softmax(-1)[:, zero]
    reference = torch.cat(
        [
            digits[:, :1],
            (digits[:, 1] * (1 - q))[:, None],
            digits[:, 2:],
            (digits[:, 1] * q)[:, None],
        ],
        dim=1,
    )
    reference = reference / reference.sum(-1, keepdim=True)
    assert torch.allclose(ours, reference, atol=1e-6), (ours - reference).abs().max()
