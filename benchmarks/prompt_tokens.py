"""Token counts of the project's prompts: editbench's offline tokenizer against Qwen's.

The prompts are those a run sends: the judge conversations that dry runs write to
``judge_requests.jsonl`` (every protocol, on the sample benchmark and on the bundled copies of
the published benchmarks' layouts), as the chat template renders them for the judge's
processor, and the Qwen-Image-Edit editor's prompt with the sample instructions. Each is
counted with the offline tokenizer of :mod:`editbench.tiny.tokenizer` and, given Qwen's BPE
ranks, with Qwen's own tokenizer through tiktoken (one vocabulary for Qwen2, 2.5 and 3).

Given the ranks, the script also checks that :func:`build_qwen_tokenizer` over all of them
gives Qwen's ids on every prompt, and ``--write-vocabulary`` rewrites
:mod:`editbench.tiny.qwen_vocabulary`: Qwen's first tokens and those its tokenizer uses on
these prompts. Neither Qwen's file nor tiktoken is needed at run time; this is how the
vocabulary and the reference counts of ``tests/test_tokenizer.py`` were made:

    pip download dashscope==2.0.2 --no-deps -d /tmp/qwen && cd /tmp/qwen
    unzip -o dashscope-2.0.2-py3-none-any.whl dashscope/resources/qwen.tiktoken && cd -
    pip install tiktoken
    python -m benchmarks.prompt_tokens --qwen-ranks /tmp/qwen/dashscope/resources/qwen.tiktoken
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import inspect
import json
import tempfile
import unicodedata
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from transformers import PreTrainedTokenizerBase
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

from editbench.config.resolvers import register_resolvers
from editbench.config.schema import register_schemas
from editbench.run import run
from editbench.sample_data.benchmarks import write as write_layout
from editbench.sources.manifest import load_manifest
from editbench.tiny import qwen_vocabulary
from editbench.tiny.tokenizer import (
    PLAIN_ADDED_TOKENS,
    SPECIAL_TOKENS,
    build_qwen_tokenizer,
    merged_from,
)

CATEGORIES = ("physical", "environment", "social", "causal", "referential")
# name -> (overrides of experiment=demo, the published layout the dataset reads, or None)
PROMPT_SETS: dict[str, tuple[list[str], str | None]] = {
    "editbench/v1": ([], None),
    "editbench/v2": ([f"prompts/{c}=v2" for c in CATEGORIES], None),
    "editbench/rubric": ([f"prompts/{c}=rubric" for c in CATEGORIES], None),
    "viescore/gedit_bench": (["dataset=gedit_bench", "dataset.path={layout}"], "gedit_bench"),
    "imgedit/imgedit": (["dataset=imgedit", "dataset.root={layout}"], "imgedit"),
    # KRIS-Bench has samples of several input images, which the Plus pipeline takes.
    "kris/kris_bench": (
        [
            "dataset=kris_bench",
            "dataset.root={layout}",
            "editor=qwen_image_edit_plus",
            "editor.model=${tiny_model:qwen_image_edit}",
        ],
        "kris_bench",
    ),
    "rise/rise_bench": (["dataset=rise_bench", "dataset.root={layout}"], "rise_bench"),
}
# name -> the diffusers pipeline whose prompt templates a tiny editor's text encoder reads.
# Both cut a fixed count of tokens (Qwen's length of their system prompt) off the encoding.
EDITOR_SETS = {
    "editor/qwen_image_edit": "QwenImageEditPipeline",
    "editor/joyimage_edit": "JoyImageEditPipeline",
}
# Other English, which the vocabulary was not chosen for: this repository's documentation.
HELD_OUT_SET = "held out: README.md, docs/*.md"
# The vocabulary keeps Qwen's first tokens (common words and pieces) for text beyond the
# project's prompts: with 4096 (89 KB in all), this repository's documentation counts 1.31 times
# Qwen's tokens; with 256 or 1024, 1.49 or 1.42 times.
FIRST_TOKENS = 4096
# Qwen's first added token; the added tokens follow in the order of editbench.tiny.tokenizer.
QWEN_ADDED_FROM = 151643


def judge_texts(name: str, folder: Path) -> list[str]:
    """The judge conversations of prompt set ``name`` as the chat template writes them (each
    image one ``<|vision_start|><|image_pad|><|vision_end|>``), from a dry run in ``folder``."""
    overrides, layout = PROMPT_SETS[name]
    if layout is not None:
        where = write_layout(layout, folder / "data")
        overrides = [o.replace("{layout}", str(where)) for o in overrides]
    with initialize_config_module("editbench.conf", version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "experiment=demo",
                "dry_run=true",
                "tracking=none",
                f"store.root={folder / 'store'}",
                *overrides,
            ],
        )
    run(cfg, folder / "run")
    lines = (folder / "run" / "judge_requests.jsonl").read_text().splitlines()
    template = build_qwen_tokenizer()
    return [
        template.apply_chat_template(
            json.loads(line)["messages"], add_generation_prompt=True, tokenize=False
        )
        for line in lines
    ]


def prompt_templates(pipeline_name: str) -> dict[str, tuple[str, int]]:
    """Each prompt template of the diffusers pipeline ``pipeline_name`` (by its key, "" for a
    pipeline of one) and the count of tokens the pipeline cuts off the front of its encoding."""
    import diffusers

    pipeline_class = getattr(diffusers, pipeline_name)
    # They are set in __init__: read them from a pipeline built without models.
    components = inspect.signature(pipeline_class.__init__).parameters
    pipeline = pipeline_class(**{name: None for name in components if name != "self"})
    templates, cuts = pipeline.prompt_template_encode, pipeline.prompt_template_encode_start_idx
    if isinstance(templates, str):
        return {"": (templates, cuts)}
    return {key: (template, cuts[key]) for key, template in templates.items()}


def editor_texts(pipeline_name: str) -> list[str]:
    """The prompts of the diffusers pipeline ``pipeline_name`` (its templates, with the image's
    pads not yet expanded) for each instruction of the sample benchmark."""
    samples = load_manifest(files("editbench") / "sample_data")
    return [
        template.format(sample.instruction)
        for template, _ in prompt_templates(pipeline_name).values()
        for sample in samples
    ]


def prompt_texts() -> Iterator[tuple[str, list[str]]]:
    """Every prompt set's name and texts, the editors' prompts last."""
    register_schemas()
    register_resolvers()
    for name in PROMPT_SETS:
        with tempfile.TemporaryDirectory() as folder:
            yield name, judge_texts(name, Path(folder))
    for name, pipeline_name in EDITOR_SETS.items():
        yield name, editor_texts(pipeline_name)


def offline_ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def qwen_encoding(lines: list[str]) -> Any:
    """Qwen's tokenizer as tiktoken builds it from ``qwen.tiktoken`` (as dashscope's
    QwenTokenizer does), with the added tokens of Qwen2.5 / Qwen3 at their ids."""
    import tiktoken

    added = SPECIAL_TOKENS + PLAIN_ADDED_TOKENS
    return tiktoken.Encoding(
        "qwen",
        pat_str=PRETOKENIZE_REGEX,
        mergeable_ranks={base64.b64decode(line.split()[0]): i for i, line in enumerate(lines)},
        special_tokens={token: QWEN_ADDED_FROM + i for i, token in enumerate(added)},
    )


def qwen_ids(encoding: Any, text: str) -> list[int]:
    # Qwen's Hugging Face tokenizer normalises to NFC first; tiktoken does not.
    return encoding.encode(unicodedata.normalize("NFC", text), allowed_special="all")


def qwen_id_of(vocabulary: str) -> list[int]:
    """Qwen's id of each id of the offline tokenizer built from ``vocabulary``."""
    ranks = sorted(int(line.split()[1]) for line in vocabulary.splitlines() if line)
    added = len(SPECIAL_TOKENS + PLAIN_ADDED_TOKENS)
    return ranks + list(range(QWEN_ADDED_FROM, QWEN_ADDED_FROM + added))


def read_ranks(path: Path) -> list[str]:
    """The lines of ``qwen.tiktoken``, checked to give the ranks 0, 1, ... in order."""
    lines = path.read_text().splitlines()
    if [int(line.split()[1]) for line in lines] != list(range(len(lines))):
        raise ValueError(f"{path}: expected lines 'token rank' with ranks 0, 1, 2, ...")
    return lines


def kept_ranks(lines: list[str], used: set[int]) -> list[int]:
    """Qwen's first :data:`FIRST_TOKENS` tokens, the ``used`` ones, and every token these are
    merged from, down to the bytes: a vocabulary that tokenizes the texts that used them as
    Qwen's does."""
    tokens = [base64.b64decode(line.split()[0]) for line in lines]
    position = {token: rank for rank, token in enumerate(tokens)}
    kept: set[int] = set()
    todo = set(range(FIRST_TOKENS)) | used
    while todo:
        rank = todo.pop()
        if rank in kept:
            continue
        kept.add(rank)
        if len(tokens[rank]) > 1:
            todo.update(position[part] for part in merged_from(tokens[rank], position))
    return sorted(kept)


def write_vocabulary(path: Path, lines: list[str], kept: list[int], source: Path) -> None:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    header = f'''"""Part of Qwen's BPE vocabulary, for the offline tokenizer of the tiny models.

Lines of ``qwen.tiktoken`` (a token in base64, its id in Qwen's vocabulary), as dashscope 2.0.2
ships it (Apache-2.0; sha256 {digest[:16]}...): Qwen's first {FIRST_TOKENS} tokens, every token
Qwen's tokenizer uses on the project's prompts, and the tokens those are merged from;
{len(kept)} of Qwen's {len(lines)}. Written by ``python -m benchmarks.prompt_tokens
--write-vocabulary``; do not edit by hand.
"""

QWEN_RANKS = """\\
'''
    path.write_text(header + "".join(lines[rank] + "\n" for rank in kept) + '"""\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qwen-ranks", type=Path, help="qwen.tiktoken (the dashscope wheel's)")
    parser.add_argument(
        "--write-vocabulary",
        action="store_true",
        help="rewrite editbench/tiny/qwen_vocabulary.py from --qwen-ranks and the prompts",
    )
    parser.add_argument("--out", type=Path, help="write the counts here as JSON")
    args = parser.parse_args()
    texts = dict(prompt_texts())
    root = Path(__file__).resolve().parents[1]
    held_out = [path.read_text() for path in [root / "README.md", *sorted(root.glob("docs/*.md"))]]
    vocabulary = qwen_vocabulary.QWEN_RANKS
    encoding = None
    if args.qwen_ranks:
        lines = read_ranks(args.qwen_ranks)
        encoding = qwen_encoding(lines)
        whole = build_qwen_tokenizer("\n".join(lines))
        for name, prompts in texts.items():
            for text in prompts:
                if offline_ids(whole, text) != qwen_ids(encoding, text):
                    raise AssertionError(f"{name}: Qwen's merges rebuilt give other ids: {text!r}")
        print("Qwen's whole vocabulary rebuilt: the same ids as Qwen's tokenizer on every prompt")
        if args.write_vocabulary:
            used = {i for ps in texts.values() for t in ps for i in qwen_ids(encoding, t)}
            kept = kept_ranks(lines, {i for i in used if i < QWEN_ADDED_FROM})
            path = Path(qwen_vocabulary.__file__)
            write_vocabulary(path, lines, kept, args.qwen_ranks)
            vocabulary = "".join(lines[rank] + "\n" for rank in kept)
            print(f"wrote {path}: {len(kept)} tokens")
    tokenizer = build_qwen_tokenizer(vocabulary)
    rows = {}
    for name, prompts in {**texts, HELD_OUT_SET: held_out}.items():
        ids = [offline_ids(tokenizer, text) for text in prompts]
        row = {
            "prompts": len(prompts),
            "characters": sum(len(text) for text in prompts),
            "offline_tokens": sum(map(len, ids)),
        }
        if encoding is not None:
            reference = [qwen_ids(encoding, text) for text in prompts]
            row["qwen_tokens"] = sum(map(len, reference))
            row["offline_over_qwen"] = round(row["offline_tokens"] / row["qwen_tokens"], 4)
            row["characters_per_qwen_token"] = round(row["characters"] / row["qwen_tokens"], 2)
            as_qwen = qwen_id_of(vocabulary)
            row["same_tokens"] = all(
                [as_qwen[i] for i in mine] == theirs
                for mine, theirs in zip(ids, reference, strict=True)
            )
        rows[name] = row
        print(name, row, flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
