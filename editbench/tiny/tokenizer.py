"""A small Qwen tokenizer, built offline, for the tiny Qwen models and the benchmarks.

It is Qwen's own tokenizer class, normalizer and pre-tokenizer (NFC, digits split one per token,
byte-level symbols) with part of Qwen's BPE vocabulary (:mod:`editbench.tiny.qwen_vocabulary`):
Qwen's first 4,096 tokens (the 256 bytes among them), and every token Qwen's tokenizer uses on
the project's prompts with the tokens it is merged from. Qwen2, 2.5 and 3 share that vocabulary,
so the project's prompts (judge conversations, the editors' prompt templates) tokenize into
exactly the tokens Qwen's tokenizer gives them, and other text into more (1.3 times as many on
this repository's documentation; ``benchmarks/prompt_tokens.py`` measures both). Ids below
4,096 are Qwen's (``"0"`` is 15, ``" "`` is 220); the other tokens follow in Qwen's order, then
Qwen's added tokens, so that a tiny model's vocabulary stays small. The chat template is
Qwen3-VL's.
"""

from __future__ import annotations

import base64
from functools import cache
from itertools import pairwise

from tokenizers import AddedToken, pre_tokenizers
from transformers import Qwen2TokenizerFast

from editbench.tiny.qwen_vocabulary import QWEN_RANKS

# Qwen's special tokens, in the order of their ids in the real vocabulary.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# Added but not special: the text they stand for survives skip_special_tokens, as in Qwen3.
PLAIN_ADDED_TOKENS = (
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)

# Qwen3-VL-Instruct's chat template without its tool-calling branches (tools, tool_calls and the
# "tool" role), which no editbench prompt uses. Every role's content may be a string or a list of
# parts; images and videos become <|vision_start|><|image_pad|><|vision_end|>, which the
# processor then expands to one pad per visual token.
CHAT_TEMPLATE = """\
{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].content is string %}
        {{- messages[0].content }}
    {%- else %}
        {%- for content in messages[0].content %}
            {%- if 'text' in content %}
                {{- content.text }}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
    {{- '<|im_end|>\\n' }}
{%- endif %}
{%- set image_count = namespace(value=0) %}
{%- set video_count = namespace(value=0) %}
{%- for message in messages %}
    {%- if message.role == "user" %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- if message.content is string %}
            {{- message.content }}
        {%- else %}
            {%- for content in message.content %}
                {%- if content.type == 'image' or 'image' in content or 'image_url' in content %}
                    {%- set image_count.value = image_count.value + 1 %}
                    {%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}
                    <|vision_start|><|image_pad|><|vision_end|>
                {%- elif content.type == 'video' or 'video' in content %}
                    {%- set video_count.value = video_count.value + 1 %}
                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}
                    <|vision_start|><|video_pad|><|vision_end|>
                {%- elif 'text' in content %}
                    {{- content.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- if message.content is string %}
            {{- message.content }}
        {%- else %}
            {%- for content_item in message.content %}
                {%- if 'text' in content_item %}
                    {{- content_item.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""


def build_qwen_tokenizer(ranks: str = QWEN_RANKS) -> Qwen2TokenizerFast:
    """Build the tokenizer from ``ranks``, lines of Qwen's ``qwen.tiktoken`` (a token in base64,
    its id in Qwen's vocabulary): its tokens in Qwen's order (ids 0, 1, ...), then the added
    tokens. Given every line of Qwen's file, every id is Qwen's.

    ``len(tokenizer)`` is the vocabulary size a model needs; look ids up with
    ``tokenizer.convert_tokens_to_ids("<|image_pad|>")``. Deterministic and offline.
    """
    tokens, merges = _vocabulary(ranks)
    tokenizer = Qwen2TokenizerFast(
        vocab={token: index for index, token in enumerate(tokens)},
        merges=list(merges),
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        extra_special_tokens=list(SPECIAL_TOKENS[1:]),
        chat_template=CHAT_TEMPLATE,
        model_max_length=262144,
    )
    tokenizer.add_tokens([AddedToken(token, special=False) for token in PLAIN_ADDED_TOKENS])
    # Set only now: the constructor adds the eos token first, which would give <|im_end|> the
    # id that Qwen gives <|endoftext|>. Instruct models end a turn with <|im_end|>.
    tokenizer.eos_token = "<|im_end|>"
    return tokenizer


@cache
def _vocabulary(ranks: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The tokens of ``ranks`` in Qwen's order, spelt in byte-level symbols, and the BPE merge
    that makes each token after the single bytes (Hugging Face's form of Qwen's tokenizer)."""
    lines = sorted(
        (int(rank), base64.b64decode(token))
        for token, rank in map(str.split, filter(None, ranks.splitlines()))
    )
    tokens = [token for _, token in lines]
    if sorted(tokens[:256]) != [bytes([b]) for b in range(256)]:
        raise ValueError("expected Qwen's first 256 tokens: the single bytes")
    # Those bytes are in GPT-2's bytes_to_unicode order, which is ByteLevel's alphabet sorted by
    # code point: the two give each byte its symbol.
    symbols = dict(
        zip(
            (token[0] for token in tokens[:256]),
            sorted(pre_tokenizers.ByteLevel.alphabet()),
            strict=True,
        )
    )

    def spell(token: bytes) -> str:
        return "".join(symbols[byte] for byte in token)

    position = {token: index for index, token in enumerate(tokens)}
    merges = tuple(tuple(map(spell, merged_from(token, position))) for token in tokens[256:])
    return tuple(map(spell, tokens)), merges


def merged_from(token: bytes, position: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The two tokens that BPE merges into ``token``, given each token's ``position`` in the
    vocabulary: its bytes merged pair by pair, the pair that makes the earliest token first,
    until two are left."""
    parts = [bytes([byte]) for byte in token]
    while len(parts) > 2:
        # One step of BPE: merge the neighbours that make the earliest token.
        earliest, index = min(
            (position.get(left + right, len(position)), index)
            for index, (left, right) in enumerate(pairwise(parts))
        )
        if earliest >= position[token]:
            raise ValueError(f"token {token!r} is not made of two tokens before it")
        parts[index : index + 2] = [parts[index] + parts[index + 1]]
    return parts[0], parts[1]
