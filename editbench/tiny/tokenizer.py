"""A tiny byte-level Qwen tokenizer, built offline, for the tiny Qwen models.

It is Qwen's own tokenizer class and pre-tokenizer (digits split one per token, byte-level
symbols) with a vocabulary of the 256 byte symbols and no merges, plus Qwen's added tokens.
Byte ``b``'s symbol has the same id as in the real Qwen vocabulary (``"0"`` is 15, ``" "`` is
220), but every word is spelt out byte by byte. The chat template is Qwen3-VL's.
"""

from __future__ import annotations

from tokenizers import AddedToken, pre_tokenizers
from transformers import Qwen2TokenizerFast

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


def build_qwen_tokenizer() -> Qwen2TokenizerFast:
    """Build the tiny tokenizer: 256 byte symbols (ids 0..255), then the added tokens.

    ``len(tokenizer)`` is the vocabulary size a model needs; look ids up with
    ``tokenizer.convert_tokens_to_ids("<|image_pad|>")``. Deterministic and offline.
    """
    # ByteLevel's alphabet sorted by code point is GPT-2's bytes_to_unicode order, which is the
    # order of the first 256 ids in Qwen's vocabulary.
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Qwen2TokenizerFast(
        vocab={symbol: index for index, symbol in enumerate(alphabet)},
        merges=[],
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
