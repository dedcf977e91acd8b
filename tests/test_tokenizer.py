"""The offline Qwen tokenizer of the tiny models and the benchmarks: Qwen's token counts on the
project's prompts, Qwen's special tokens, chat template and digits."""

from __future__ import annotations

import pytest

from benchmarks.prompt_tokens import (
    EDITOR_SETS,
    PROMPT_SETS,
    offline_ids,
    prompt_templates,
    prompt_texts,
)
from editbench.tiny.qwen_vocabulary import QWEN_RANKS
from editbench.tiny.tokenizer import PLAIN_ADDED_TOKENS, SPECIAL_TOKENS, build_qwen_tokenizer

# Qwen's token counts of each prompt set (summed over its prompts), measured with Qwen's own
# tokenizer (tiktoken over qwen.tiktoken of dashscope 2.0.2) by
#   python -m benchmarks.prompt_tokens --qwen-ranks .../dashscope/resources/qwen.tiktoken
# (docs/benchmarks.md). Re-measure them there when a prompt changes.
QWEN_TOKENS = {
    "editbench/v1": 5412,
    "editbench/v2": 5722,
    "editbench/rubric": 10918,
    "viescore/gedit_bench": 13973,
    "imgedit/imgedit": 5041,
    "kris/kris_bench": 47959,
    "rise/rise_bench": 10454,
    "editor/qwen_image_edit": 824,
    "editor/joyimage_edit": 978,
}
# Qwen's ids of its added tokens (tokenizer_config.json of Qwen2.5-VL and Qwen3-VL).
QWEN_ADDED_IDS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|vision_start|>": 151652,
    "<|image_pad|>": 151655,
    "<think>": 151667,
}


@pytest.fixture(scope="module")
def tokenizer():
    return build_qwen_tokenizer()


@pytest.fixture(scope="module")
def prompts() -> dict[str, list[str]]:
    """Every prompt set as a run renders it (dry runs of every protocol, the editors' templates)."""
    return dict(prompt_texts())


def test_every_prompt_set_has_a_reference_count() -> None:
    assert set(QWEN_TOKENS) == set(PROMPT_SETS) | set(EDITOR_SETS)


@pytest.mark.parametrize("name", sorted(QWEN_TOKENS))
def test_prompts_count_within_15_percent_of_qwen(name, tokenizer, prompts) -> None:
    count = sum(len(offline_ids(tokenizer, text)) for text in prompts[name])
    ratio = count / QWEN_TOKENS[name]
    assert abs(ratio - 1) <= 0.15, (
        f"{name}: {count} tokens offline, {QWEN_TOKENS[name]} with Qwen's tokenizer; if the "
        "prompts changed, measure again with benchmarks/prompt_tokens.py and rewrite the "
        "vocabulary with its --write-vocabulary"
    )


@pytest.mark.parametrize(
    ("pipeline_name", "template", "kept"),
    [
        ("QwenImageEditPipeline", "", "<|vision_start|><|image_pad|><|vision_end|>Make it red"),
        ("JoyImageEditPipeline", "image", "user\nMake it red"),
    ],
)
def test_an_editors_fixed_cut_drops_what_qwens_tokens_make_it_drop(
    pipeline_name, template, kept, tokenizer
) -> None:
    # These pipelines drop a fixed count of prompt tokens (64, 34), Qwen's length of their
    # system turn; the offline tokens are Qwen's, so the cut falls where it does for Qwen.
    text, cut = prompt_templates(pipeline_name)[template]
    ids = offline_ids(tokenizer, text.format("Make it red"))
    assert tokenizer.decode(ids[cut:]) == kept + "<|im_end|>\n<|im_start|>assistant\n"


def test_ids_below_4096_are_qwens(tokenizer) -> None:
    lines = [line.split() for line in QWEN_RANKS.splitlines()]
    ranks = [int(rank) for _, rank in lines]
    assert ranks[:4096] == list(range(4096)) and ranks == sorted(ranks)
    assert tokenizer(" the image", add_special_tokens=False).input_ids == [279, 2168]
    assert tokenizer.convert_tokens_to_ids(["0", "9", "Ġ", "Ċ"]) == [15, 24, 220, 198]


def test_added_tokens_follow_the_vocabulary_in_qwens_order(tokenizer) -> None:
    added = SPECIAL_TOKENS + PLAIN_ADDED_TOKENS
    ids = tokenizer.convert_tokens_to_ids(list(added))
    first = len(QWEN_RANKS.splitlines())
    assert ids == list(range(first, first + len(added))) and len(tokenizer) == first + len(added)
    for token, qwen_id in QWEN_ADDED_IDS.items():
        assert tokenizer.convert_tokens_to_ids(token) - first == qwen_id - 151643
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|endoftext|>")


def test_special_tokens_are_one_token_each_and_only_they_are_skipped(tokenizer) -> None:
    text = (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<think>x</think><|im_end|>"
    )
    ids = tokenizer(text, add_special_tokens=False).input_ids
    words = tokenizer.convert_ids_to_tokens(ids)
    for token in ("<|im_start|>", "<|image_pad|>", "<think>", "<|im_end|>"):
        assert words.count(token) == 1
    # As in Qwen3: <think> and the tool tokens are added but not special.
    assert tokenizer.decode(ids, skip_special_tokens=True) == "user\nHi<think>x</think>"


def test_digits_are_one_token_each(tokenizer) -> None:
    words = tokenizer.tokenize("Score: 10.125 in 2024")
    assert words == [
        "Score",
        ":",
        "Ġ",
        "1",
        "0",
        ".",
        "1",
        "2",
        "5",
        "Ġin",
        "Ġ",
        "2",
        "0",
        "2",
        "4",
    ]
    assert tokenizer.convert_tokens_to_ids([str(d) for d in range(10)]) == list(range(15, 25))


def test_text_decodes_back_whole(tokenizer) -> None:
    text = "Tip the glass over the table edge — 把杯子推倒 ✓ naïve"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False).input_ids) == text


def test_chat_template_renders_list_content_for_every_role(tokenizer) -> None:
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "You judge edits."}]},
        {
            "role": "user",
            "content": [{"type": "image", "image": "/a.png"}, {"type": "text", "text": "Score?"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "10"}]},
    ]

    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    assert rendered == (
        "<|im_start|>system\nYou judge edits.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Score?<|im_end|>\n"
        "<|im_start|>assistant\n10<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
