"""Full-size Qwen3-VL judges with random weights: the bare forward against editbench's scoring.

Builds Qwen3-VL-8B-Instruct (dense) and Qwen3-VL-30B-A3B-Instruct (MoE) from their published
configs (:mod:`benchmarks.qwen3_vl_models`) through editbench's own judge, whose weight read
alone is replaced (:class:`RandomWeightsQwen3VLJudge` builds the model straight on the GPU),
checks their parameter counts, then times on the same card, in this process, with the same
requests (1024² images, ~400 prompt tokens, the same batch size):

- ``bare``: one forward of that model on inputs already on the GPU (what expected mode needs at
  least: the logits of the last position);
- ``editbench``: what a judge worker runs: each batch's CPU work (:meth:`Qwen3VLJudge.prepare`)
  done ahead on a background thread by :func:`editbench.launch.prefetch.prefetched` while the judge
  scores the batch before, then :meth:`Qwen3VLJudge.score` in ``expected`` mode, on
  :class:`JudgeRequest` s from :func:`render_request` (the editbench protocol) with images read
  from PNG files;
- ``serial``: the same without the prefetch (the CPU work of each batch before its GPU work);
- ``bare_1img``: the bare forward with one image per request (the first judge measurements'
  setup, kept so that figures stay comparable).

The batch size is the judge's own (``--batch-size auto``: from free memory, as in a run).
A judge request shows two images (source and edit), so each judged edit is 2048 visual tokens
plus the text. The processor has the checkpoints' image settings and the offline Qwen tokenizer
(:mod:`editbench.tiny.tokenizer`: the prompt's tokens as Qwen's).

    python -m benchmarks.judge_full_size --out $OUT            # H100: both models
    python -m benchmarks.judge_full_size --tiny                 # CPU: same path, tiny configs
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import torch
import transformers
import yaml
from PIL import Image

from benchmarks.common import log_to, release, sample_scenes, sync, timed
from benchmarks.qwen3_vl_models import MODELS, RandomWeightsQwen3VLJudge, write_checkpoint
from editbench.judges import qwen3_vl
from editbench.launch.prefetch import prefetched
from editbench.protocols.requests import render_request
from editbench.protocols.spec import Protocol
from editbench.records import OK, JudgeRequest
from editbench.tiny.tokenizer import build_qwen_tokenizer

log = logging.getLogger("judge_full_size")

# How the next batch is prepared while the judge scores this one: (name, preparing processes,
# pinned). A process of its own is the judge's default on a GPU; the others are for comparison.
VARIANTS = [("process", 1, True), ("process_unpinned", 1, False), ("thread", 0, True)]


def make_requests(count: int, side: int, text_tokens: int, tokenizer: Any, folder: Path):
    """``count`` expected-mode requests on the package's sample items: each source image and,
    as its "edit", the next sample's image, both resized to ``side``² and written as PNG; the
    physical v1 prompt, cut so that the conversation has about ``text_tokens`` text tokens."""
    samples = sample_scenes(folder, side)
    paths = [sample.image for sample in samples]
    prompt_file = Path(__file__).parents[1] / "conf" / "prompts" / "physical" / "v1.yaml"
    prompt = yaml.safe_load(prompt_file.read_text())
    tail = "\nInstruction: {{instruction}}\n\nReply with one line: Score: X.XXX"

    def render(system: str, i: int) -> JudgeRequest:
        sample = samples[i % len(samples)]
        edited = paths[(i + 1) % len(paths)]
        option = {"system_prompt": system, "user_prompt_template": tail, "score_prefix": "Score:"}
        (call,) = Protocol.editbench({sample.category: option}).calls
        return render_request(call, sample, edited)

    def length(request: JudgeRequest) -> int:  # tokens, less the two image placeholders
        text = tokenizer.apply_chat_template(
            request.messages, add_generation_prompt=True, tokenize=False
        )
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) - 2

    # The offline tokenizer counts the prompt's tokens as Qwen's does: cut it by tokens.
    full = prompt["system_prompt"] + "\n" + prompt["user_prompt_template"]
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    system = tokenizer.decode(ids[: max(1, text_tokens - length(render("", 0)))])
    return [render(system, i) for i in range(count)]


def processor_inputs(processor: Any, requests: list[JudgeRequest], device: str) -> Any:
    """Inputs for the bare forward: the conversations as editbench continues them in expected
    mode (through "Score: "), with the same images."""
    texts = [
        processor.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False)
        + "Score: "
        for r in requests
    ]
    images = [
        Image.open(part["image"]).convert("RGB")
        for r in requests
        for message in r.messages
        for part in message["content"]
        if part.get("type") == "image"
    ]
    inputs = processor(text=texts, images=images, padding=True, return_tensors="pt")
    return inputs.to(device)


def last_logits(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
    """The bare forward: the next-token logits at each row's last position, no KV cache."""
    return model(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1]


def one_image(request: JudgeRequest) -> JudgeRequest:
    """``request`` without its edited image (and the line naming it)."""
    system, user = request.messages
    content = user["content"]
    return JudgeRequest(messages=[system, {**user, "content": content[:2] + content[4:]}])


def bench_model(name: str, args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    """Load ``name`` through the judge, time the bare forward and editbench's scoring at the
    judge's batch size, free it."""
    device, requests = args.device, env["requests"]
    folder = write_checkpoint(env["tmp"] / name, name, env["tokenizer"], args.tiny)
    judge = RandomWeightsQwen3VLJudge(
        model=str(folder),
        score_mode="expected",
        batch_size=args.batch_size,
        max_batch_size=args.max_batch_size,
    )
    started = time.perf_counter()
    judge.load([device])
    sync(device)
    model = judge._model
    params = sum(p.numel() for p in model.parameters())
    log.info("%s: built in %.1f s, %d parameters", name, time.perf_counter() - started, params)
    low, high = MODELS[name]["params"]
    if not args.tiny and not low <= params <= high:
        raise SystemExit(f"{name}: {params} parameters, expected {low:.3g}..{high:.3g}")
    result: dict[str, Any] = {"model": name, "params": params}
    result["image_processor"] = type(judge._processor.image_processor).__name__

    started = time.perf_counter()
    judge.fit_batch_size(requests[: judge.batch_size])
    batch = judge.batch_size
    result["batch_size"] = batch
    result["batch_size_chosen"] = "auto" if judge.auto_batch_size else "set"
    result["fit_s"] = time.perf_counter() - started
    log.info(
        "%s: batch size %d (%s), fitted in %.1f s", name, batch, args.batch_size, result["fit_s"]
    )
    # A second run's worker: the size fitted above is remembered (editbench.judges.batch_memory).
    started = time.perf_counter()
    judge.fit_batch_size(requests[: judge.batch_size])
    result["refit_s"] = time.perf_counter() - started
    result["refit_batch_size"] = judge.batch_size
    batches = [requests[i * batch : (i + 1) * batch] for i in range(args.repeats + 1)]

    log.info("%s: bare forward, batch %d", name, batch)
    with torch.inference_mode():
        start = time.perf_counter()
        inputs = processor_inputs(judge._processor, batches[0], device)
        sync(device)
        result["cpu_prep_s"] = time.perf_counter() - start
        image_tokens = int((inputs["input_ids"] == env["image_token"]).sum()) // batch
        result["tokens_per_request"] = inputs["input_ids"].shape[1]
        result["image_tokens_per_request"] = image_tokens
        result["text_tokens_per_request"] = (
            int(inputs["attention_mask"].sum()) // batch - image_tokens
        )
        result["bare_s"], logits = timed(partial(last_logits, model, inputs), args.repeats, device)
        bare_digits = logits.float()[:, env["digits"]].softmax(-1).cpu()
        del inputs, logits

        if not args.lean:
            log.info("%s: bare forward, one image per request", name)
            inputs = processor_inputs(judge._processor, [one_image(r) for r in batches[0]], device)
            result["bare_1img_s"], _ = timed(
                partial(last_logits, model, inputs), args.repeats, device
            )
            result["tokens_per_request_1img"] = inputs["input_ids"].shape[1]
            del inputs
    release(device)

    warm_up = judge.score(batches[0])  # the bare forward's rows
    judgements = {}
    for variant, processes, pin in [v for v in VARIANTS if v[0] in args.preparations]:
        log.info("%s: editbench, %s", name, variant)
        judge._prepare_processes, qwen3_vl.PIN_PREPARED = processes, pin
        if processes:
            judge.prepare(batches[0])  # the preparing process starts and loads its processor
        sync(device)
        start = time.perf_counter()
        judgements[variant] = []
        for requests_, prepared in prefetched(batches[1:], judge.prepare):
            judgements[variant] += judge.score(requests_, prepared)
        sync(device)
        result[f"{variant}_s"] = (time.perf_counter() - start) / args.repeats

    serial = []
    if not args.lean:
        log.info("%s: editbench, serial (no prefetch)", name)
        start = time.perf_counter()
        serial = [j for requests_ in batches[1:] for j in judge.score(requests_)]
        sync(device)
        result["serial_s"] = (time.perf_counter() - start) / args.repeats
    best = min(args.preparations, key=lambda v: result[f"{v}_s"])
    result["editbench_variant"], result["editbench_s"] = best, result[f"{best}_s"]
    judgements = judgements[best]

    result["batch_size_after"] = judge.batch_size  # lower if a batch ran out of memory
    log.info("%s so far: %s", name, json.dumps(result))  # kept should compiling run out of time
    if args.compile:
        result.update(compiled(judge, batches, warm_up, device, args.repeats))
        judgements += result.pop("judgements")

    bad = [j for j in judgements + serial if j.status != OK or j.score is None]
    if bad:
        raise SystemExit(f"{name}: {len(bad)} judgements not ok, first: {bad[0]}")
    # The judge's p(0), p(2..9) against the bare forward's digit distribution, same rows.
    ours = torch.tensor([j.distribution for j in warm_up])
    first_one = ours[:, 1] + ours[:, 10]
    theirs = torch.cat([ours[:, :1], first_one[:, None], ours[:, 2:10]], dim=1)
    result["max_abs_diff_digit_probs"] = float((theirs - bare_digits).abs().max())
    for key in ("bare", "bare_1img", "editbench", "serial", *args.preparations):
        if f"{key}_s" in result:
            result[f"{key}_img_per_s"] = batch / result[f"{key}_s"]
    result["ratio"] = result["editbench_img_per_s"] / result["bare_img_per_s"]
    if args.compile:
        result["compiled_img_per_s"] = batch / result["compiled_s"]
        result["compiled_ratio"] = result["compiled_img_per_s"] / result["bare_img_per_s"]
    if "serial_s" in result:
        result["serial_ratio"] = result["serial_img_per_s"] / result["bare_img_per_s"]
    if torch.device(device).type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def compiled(
    judge: Any, batches: list[list[JudgeRequest]], eager: list[Any], device: str, repeats: int
) -> dict[str, Any]:
    """The judge with ``compile=true`` (its blocks compiled in place, dynamic shapes): the
    first batches' compile time, then editbench's scoring as above, and how far its digit
    probabilities are from the eager judge's on the same rows."""
    log.info("compiling the judge's blocks (%s)", qwen3_vl.COMPILE_MODE)
    qwen3_vl.compile_blocks(judge._model)
    judge.compile = True
    judge._prepare_processes, qwen3_vl.PIN_PREPARED = 1, True
    started = time.perf_counter()
    first = judge.score(batches[0])
    # A batch of another size and length: dynamic shapes must not compile again.
    judge.score(batches[1][: max(1, len(batches[1]) - 3)])
    sync(device)
    compile_s = time.perf_counter() - started
    start = time.perf_counter()
    judgements = []
    for requests_, prepared in prefetched(batches[1:], judge.prepare):
        judgements += judge.score(requests_, prepared)
    sync(device)
    ours = torch.tensor([j.distribution for j in first])
    reference = torch.tensor([j.distribution for j in eager])
    return {
        "compile_s": compile_s,
        "compiled_s": (time.perf_counter() - start) / repeats,
        "compiled_max_abs_diff_probs": float((ours - reference).abs().max()),
        "judgements": judgements,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs, small images (CPU)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--batch-size", type=_batch_size, default="auto", help="a number, or auto (default)"
    )
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=None, help="timed batches: 3; 1 tiny")
    parser.add_argument("--image-side", type=int, default=None, help="1024; 256 with --tiny")
    parser.add_argument("--text-tokens", type=int, default=400)
    parser.add_argument(
        "--compile", action="store_true", help="also time the judge with compile=true"
    )
    parser.add_argument(
        "--lean", action="store_true", help="skip the 1-image bare forward and the serial path"
    )
    parser.add_argument(
        "--compile-mode", default=None, help="torch.compile mode for --compile (the judge's own)"
    )
    parser.add_argument(
        "--preparations",
        nargs="+",
        default=[name for name, _, _ in VARIANTS],
        choices=[name for name, _, _ in VARIANTS],
        help="how the next batch is prepared, each timed (default: all)",
    )
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.tiny else 3)
    if args.compile_mode:
        qwen3_vl.COMPILE_MODE = args.compile_mode
    side = args.image_side or (256 if args.tiny else 1024)  # 256² is the processor's minimum
    log_to(args.out, "judge_full_size")
    facts = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": torch.cuda.get_device_name(args.device) if "cuda" in args.device else "cpu",
        "cpu_threads": torch.get_num_threads(),
        "image_side": side,
        "tiny": args.tiny,
    }
    log.info("%s", facts)
    tokenizer = build_qwen_tokenizer()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        most = args.batch_size if isinstance(args.batch_size, int) else args.max_batch_size
        requests = make_requests(
            most * (args.repeats + 1), side, args.text_tokens, tokenizer, Path(tmp)
        )
        env = {
            "tmp": Path(tmp),
            "tokenizer": tokenizer,
            "requests": requests,
            "image_token": tokenizer.convert_tokens_to_ids("<|image_pad|>"),
            "digits": [tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)],
        }
        for name in args.models:
            try:
                results.append(bench_model(name, args, env))
            except torch.OutOfMemoryError as error:
                log.error("%s: out of memory: %s", name, error)
                results.append({"model": name, "error": f"out of memory: {error}"[:300]})
            except Exception as error:  # record it and go on to the next model
                log.exception("%s failed", name)
                results.append({"model": name, "error": f"{type(error).__name__}: {error}"})
            release(args.device)  # the model is unreferenced once the except clause ends
            log.info("%s", json.dumps(results[-1]))
    (args.out / "judge_full_size.json").write_text(
        json.dumps({**facts, "results": results}, indent=2)
    )
    log.info("%s", table(results, facts))


def _batch_size(text: str) -> int | str:
    return text if text == "auto" else int(text)


def _by_preparation(result: dict[str, Any]) -> str:
    timed_ones = [v for v, _, _ in VARIANTS if f"{v}_img_per_s" in result]
    return ", ".join(f"{v} {result[f'{v}_img_per_s']:.2f}" for v in timed_ones)


def table(results: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    """The short table printed last."""
    rows = [
        f"\n{facts['device']}, torch {facts['torch']}, transformers {facts['transformers']}, "
        f"{facts['image_side']}² images, {facts['date']}",
        "| model | params | batch | tokens/req (img+text) | bare img/s | editbench img/s | ratio "
        "| serial img/s (ratio) | bare 1-image img/s | CPU prep s/batch | peak GiB "
        "| img/s by preparation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['model']} | {r['error']} |")
            continue
        rows.append(
            f"| {r['model']} | {r['params']:.4g} | {r['batch_size']} "
            f"| {r['image_tokens_per_request']}+{r['text_tokens_per_request']} "
            f"| {r['bare_img_per_s']:.2f} | {r['editbench_img_per_s']:.2f} | {r['ratio']:.2f} "
            f"| {r.get('serial_img_per_s', 0):.2f} ({r.get('serial_ratio', 0):.2f}) "
            f"| {r.get('bare_1img_img_per_s', 0):.2f} | {r['cpu_prep_s']:.2f} "
            f"| {r.get('peak_gib', 0):.1f} "
            f"| {_by_preparation(r)} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
