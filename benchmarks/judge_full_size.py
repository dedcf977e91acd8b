"""Full-size Qwen3-VL judges with random weights: the bare forward against editbench's scoring.

Builds Qwen3-VL-8B-Instruct (dense) and Qwen3-VL-30B-A3B-Instruct (MoE) from their published
configs, straight on the GPU (meta device, ``to_empty``, in-place normal init: no weight files),
checks their parameter counts, then times on the same card, in this process, with the same
requests (1024² images, ~400 prompt tokens, the same batch size):

- ``bare``: one forward of the model on inputs already on the GPU (what expected mode needs at
  least: the logits of the last position);
- ``editbench``: :meth:`Qwen3VLJudge.score` in ``expected`` mode on :class:`JudgeRequest`s from
  :func:`render_judge_request`, with images read from PNG files as a run reads them: the judge's
  own preprocessing, batching and ``generate`` path;
- ``bare_1img``: the bare forward with one image per request, the setup of issue 7's table.

A judge request shows two images (source and edit), so each judged edit is 2048 visual tokens
plus the text. The judge gets the model through its own ``load``, with only the weight read
swapped for the model built here (see :class:`_Prebuilt`); the processor is read from a folder
written here with the real image-processor settings and the tiny offline tokenizer.

    python benchmarks/judge_full_size.py --out $OUT            # H100: both models
    python benchmarks/judge_full_size.py --tiny                 # CPU: same path, tiny configs
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Any
from unittest import mock

import torch
import transformers
import yaml
from accelerate import init_empty_weights
from PIL import Image
from transformers import (
    AutoProcessor,
    GenerationConfig,
    Qwen2VLImageProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLMoeConfig,
    Qwen3VLMoeForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from editbench.dataset import load_samples
from editbench.prompts import render_judge_request
from editbench.records import OK, JudgeRequest
from editbench.scorers import qwen3_vl
from editbench.scorers.qwen3_vl import Qwen3VLJudge
from editbench.tiny import qwen3_vl as tiny
from editbench.tiny.tokenizer import build_qwen_tokenizer

log = logging.getLogger("judge_full_size")

# config.json of Qwen/Qwen3-VL-8B-Instruct and Qwen/Qwen3-VL-30B-A3B-Instruct on the Hugging Face
# Hub (transformers 4.57 era; rope_scaling is spelt rope_parameters in transformers 5). Written
# from the model cards and cross-checked against copies of both files in public repositories
# (e.g. a test fixture "transcribed from the fetched file at commit 1fc78ad" for the 30B).
# The special-token ids (image_token_id 151655, ...) are not copied: they must be the ids of the
# tokenizer in use, here the tiny byte-level one; vocab_size stays the real 151936.
ROPE = {
    "rope_type": "default",
    "rope_theta": 5_000_000.0,
    "mrope_section": [24, 20, 20],
    "mrope_interleaved": True,
}
VISION = {
    "depth": 27,
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_heads": 16,
    "hidden_act": "gelu_pytorch_tanh",
    "in_channels": 3,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "num_position_embeddings": 2304,
    "deepstack_visual_indexes": [8, 16, 24],
}
TEXT = {
    "vocab_size": 151936,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-6,
    "attention_bias": False,
    "rope_parameters": ROPE,
}
MODELS: dict[str, dict[str, Any]] = {
    "qwen3-vl-8b": {
        "config_class": Qwen3VLConfig,
        "model_class": Qwen3VLForConditionalGeneration,
        "text": {
            **TEXT,
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
        },
        "vision": {**VISION, "out_hidden_size": 4096},
        "params": (8.72e9, 8.82e9),  # the checkpoint's safetensors: 8.77B (9B on the Hub page)
    },
    "qwen3-vl-30b-a3b": {
        "config_class": Qwen3VLMoeConfig,
        "model_class": Qwen3VLMoeForConditionalGeneration,
        "text": {
            **TEXT,
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "num_hidden_layers": 48,
            "num_attention_heads": 32,
            "num_key_value_heads": 4,
            "num_experts": 128,
            "num_experts_per_tok": 8,
            "moe_intermediate_size": 768,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "norm_topk_prob": True,
        },
        "vision": {**VISION, "out_hidden_size": 2048},
        "params": (30.9e9, 31.2e9),  # the checkpoint's safetensors: 31.1B
    },
}
# preprocessor_config.json of both checkpoints: pixels per image between 256² and 4096², patch
# 16, 2x2 merge, so a 1024² image is 64x64 patches and 1024 visual tokens.
PROCESSOR = {
    "size": {"shortest_edge": 65536, "longest_edge": 16777216},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}
IMAGE_PROCESSOR_TYPE = "Qwen2VLImageProcessorFast"  # as the checkpoints declare it


def build_model(name: str, tokenizer: Any, device: str, tiny_size: bool) -> torch.nn.Module:
    """The model ``name`` with random bf16 weights on ``device``, parameters never on the CPU.

    Parameters are created on the meta device and materialised with ``to_empty``; buffers
    (the rotary inverse frequencies, which are computed, not loaded) are made on the CPU and
    copied over. Matrices get N(0, 0.02) noise, norm weights 1, biases 0: the values do not
    change the cost of dense compute, and the MoE router stays near uniform as in a real load.
    """
    spec = MODELS[name]
    text, vision = spec["text"], spec["vision"]
    if tiny_size:
        moe = tiny.MOE if "num_experts" in text else {}
        text = {**tiny.TEXT, **moe, "vocab_size": len(tokenizer)}
        vision = tiny.VISION
    ids = tokenizer.convert_tokens_to_ids
    config = spec["config_class"](
        text_config={**text, "pad_token_id": tokenizer.pad_token_id},
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=False,
    )
    with init_empty_weights(include_buffers=False):
        model = spec["model_class"]._from_config(
            config, dtype=torch.bfloat16, attn_implementation="sdpa"
        )
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    model.to_empty(device=device)
    generator = torch.Generator(device).manual_seed(0)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            buffer.copy_(buffers[name])
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.02, generator=generator)
            elif "norm" in name:
                param.fill_(1.0)
            else:
                param.zero_()
    # As the Instruct checkpoints ship it; the judge decodes greedily whatever this says.
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=True,
        top_k=20,
        top_p=0.8,
        temperature=0.7,
    )
    return model.eval()


def write_processor(path: Path, tokenizer: Any) -> None:
    """A processor folder with the checkpoints' image settings and the tiny tokenizer."""
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**PROCESSOR),
        video_processor=Qwen3VLVideoProcessor(**PROCESSOR),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )
    processor.save_pretrained(path)
    config_file = path / "preprocessor_config.json"
    if config_file.exists():  # name the class the checkpoints name, so Auto picks alike
        config = json.loads(config_file.read_text())
        config["image_processor_type"] = IMAGE_PROCESSOR_TYPE
        config_file.write_text(json.dumps(config, indent=2))


class _Prebuilt:
    """Stands in for ``AutoModelForImageTextToText`` inside the judge's module during ``load``:
    ``from_pretrained`` returns the model built here, after checking that the judge asked for
    what it is (dtype, device, attention). Everything else in ``load`` runs as in a real run."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def from_pretrained(self, path: str, **kwargs: Any) -> torch.nn.Module:
        asked = (kwargs["dtype"], torch.device(kwargs["device_map"]), kwargs["attn_implementation"])
        built = (self.model.dtype, self.model.device, self.model.config._attn_implementation)
        if asked != built:
            raise RuntimeError(f"the judge asked for {asked}, the model built is {built}")
        return self.model


def make_requests(count: int, side: int, text_tokens: int, tokenizer: Any, folder: Path):
    """``count`` expected-mode requests on the package's sample items: each source image and,
    as its "edit", the next sample's image, both resized to ``side``² and written as PNG; the
    physical v1 prompt, cut so that the conversation has about ``text_tokens`` text tokens."""
    samples = []
    for sample in load_samples(files("editbench") / "sample_data"):
        path = folder / f"{sample.id}.png"
        with Image.open(sample.image) as image:
            image.convert("RGB").resize((side, side), Image.BICUBIC).save(path)
        samples.append(replace(sample, image=str(path)))
    paths = [sample.image for sample in samples]
    prompt_file = Path(__file__).parents[1] / "conf" / "prompts" / "physical" / "v1.yaml"
    prompt = yaml.safe_load(prompt_file.read_text())
    tail = "\nInstruction: {{instruction}}\n\nReply with one line: Score: X.XXX"

    def render(system: str, i: int) -> JudgeRequest:
        sample = samples[i % len(samples)]
        edited = paths[(i + 1) % len(paths)]
        option = {"system_prompt": system, "user_prompt_template": tail, "score_prefix": "Score:"}
        return render_judge_request(sample, edited, option)

    def length(request: JudgeRequest) -> int:  # tokens, less the two image placeholders
        text = tokenizer.apply_chat_template(
            request.messages, add_generation_prompt=True, tokenize=False
        )
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) - 2

    # The tiny tokenizer spells text byte by byte: cut the prompt, not the token count, to size.
    full = prompt["system_prompt"] + "\n" + prompt["user_prompt_template"]
    system = full[: max(1, text_tokens - length(render("", 0)))]
    return [render(system, i) for i in range(count)], paths


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


def timed(step: Callable[[], Any], repeats: int, device: str) -> tuple[float, Any]:
    """Median seconds of ``step`` over ``repeats`` runs after one warm-up, and its last result."""
    result = step()
    seconds = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        result = step()
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _release(device: str) -> None:
    """Free what the last model left on ``device`` and restart its peak-memory count."""
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def one_image(request: JudgeRequest) -> JudgeRequest:
    """``request`` without its edited image (and the line naming it): issue 7's setup."""
    system, user = request.messages
    content = user["content"]
    return JudgeRequest(messages=[system, {**user, "content": content[:2] + content[4:]}])


def bench_model(
    name: str, batch: int, args: argparse.Namespace, env: dict[str, Any]
) -> dict[str, Any]:
    """Build ``name``, time the bare forward and editbench's scoring at ``batch``, free it."""
    device, tokenizer = args.device, env["tokenizer"]
    started = time.perf_counter()
    model = build_model(name, tokenizer, device, args.tiny)
    _sync(device)
    params = sum(p.numel() for p in model.parameters())
    low, high = MODELS[name]["params"]
    log.info("%s: built in %.1f s, %d parameters", name, time.perf_counter() - started, params)
    if not args.tiny and not low <= params <= high:
        raise SystemExit(f"{name}: {params} parameters, expected {low:.3g}..{high:.3g}")
    result: dict[str, Any] = {"model": name, "params": params, "batch_size": batch}
    processor = AutoProcessor.from_pretrained(env["folder"], padding_side="left")
    result["image_processor"] = type(processor.image_processor).__name__
    requests = env["requests"][:batch]

    log.info("%s: bare forward, batch %d", name, batch)
    with torch.inference_mode():
        start = time.perf_counter()
        inputs = processor_inputs(processor, requests, device)
        _sync(device)
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

        log.info("%s: bare forward, one image per request", name)
        inputs = processor_inputs(processor, [one_image(r) for r in requests], device)
        result["bare_1img_s"], _ = timed(partial(last_logits, model, inputs), args.repeats, device)
        result["tokens_per_request_1img"] = inputs["input_ids"].shape[1]
        del inputs
    _release(device)

    log.info("%s: editbench's Qwen3VLJudge.score, expected mode", name)
    judge = Qwen3VLJudge(model=str(env["folder"]), score_mode="expected", batch_size=batch)
    with mock.patch.object(qwen3_vl, "AutoModelForImageTextToText", _Prebuilt(model)):
        judge.load([device])
    judge.score(requests)  # warm-up, one batch
    count = batch * args.repeats
    _sync(device)
    start = time.perf_counter()
    judgements = judge.score(env["requests"][:count])
    _sync(device)
    result["editbench_s"] = (time.perf_counter() - start) / args.repeats
    bad = [j for j in judgements if j.status != OK or j.score is None]
    if bad:
        raise SystemExit(f"{name}: {len(bad)} judgements not ok, first: {bad[0]}")
    # The judge's p(0), p(2..9) against the bare forward's digit distribution, same rows.
    ours = torch.tensor([j.distribution for j in judgements[:batch]])
    first_one = ours[:, 1] + ours[:, 10]
    theirs = torch.cat([ours[:, :1], first_one[:, None], ours[:, 2:10]], dim=1)
    result["max_abs_diff_digit_probs"] = float((theirs - bare_digits).abs().max())
    for key in ("bare", "bare_1img", "editbench"):
        result[f"{key}_img_per_s"] = batch / result[f"{key}_s"]
    result["ratio"] = result["editbench_img_per_s"] / result["bare_img_per_s"]
    if torch.device(device).type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs, small images (CPU)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=None, help="32; 2 with --tiny")
    parser.add_argument("--repeats", type=int, default=None, help="timed batches: 3; 1 tiny")
    parser.add_argument("--image-side", type=int, default=None, help="1024; 256 with --tiny")
    parser.add_argument("--text-tokens", type=int, default=400)
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    args = parser.parse_args()
    args.batch_size = args.batch_size or (2 if args.tiny else 32)
    args.repeats = args.repeats or (1 if args.tiny else 3)
    side = args.image_side or (256 if args.tiny else 1024)  # 256² is the processor's minimum
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[
            logging.StreamHandler(sys.stdout),
            logging.FileHandler(args.out / "judge_full_size.log"),
        ],
    )
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
        folder = Path(tmp) / "processor"
        write_processor(folder, tokenizer)
        requests, paths = make_requests(
            args.batch_size * (args.repeats + 1), side, args.text_tokens, tokenizer, Path(tmp)
        )
        env = {
            "tokenizer": tokenizer,
            "folder": folder,
            "requests": requests,
            "paths": paths,
            "image_token": tokenizer.convert_tokens_to_ids("<|image_pad|>"),
            "digits": [tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)],
        }
        for name in args.models:
            # Out of memory at the asked batch size: once more at half of it, then give up.
            for batch in (args.batch_size, args.batch_size // 2):
                try:
                    results.append(bench_model(name, batch, args, env))
                except torch.OutOfMemoryError as error:
                    log.error("%s: out of memory at batch %d: %s", name, batch, error)
                    results.append({"model": name, "error": f"out of memory at batch {batch}"})
                except Exception as error:  # record it and go on to the next model
                    log.exception("%s failed at batch %d", name, batch)
                    results.append({"model": name, "error": f"{type(error).__name__}: {error}"})
                    _release(args.device)
                    log.info("%s", json.dumps(results[-1]))
                    break
                _release(args.device)  # the model is unreferenced once the except clause ends
                log.info("%s", json.dumps(results[-1]))
                if "error" not in results[-1]:
                    break
    (args.out / "judge_full_size.json").write_text(
        json.dumps({**facts, "results": results}, indent=2)
    )
    log.info("%s", table(results, facts))


def table(results: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    """The short table printed last."""
    rows = [
        f"\n{facts['device']}, torch {facts['torch']}, transformers {facts['transformers']}, "
        f"{facts['image_side']}² images, {facts['date']}",
        "| model | params | batch | tokens/req (img+text) | bare img/s | editbench img/s | ratio "
        "| bare 1-image img/s | CPU prep s/batch |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['model']} | {r['error']} |")
            continue
        rows.append(
            f"| {r['model']} | {r['params']:.4g} | {r['batch_size']} "
            f"| {r['image_tokens_per_request']}+{r['text_tokens_per_request']} "
            f"| {r['bare_img_per_s']:.2f} | {r['editbench_img_per_s']:.2f} | {r['ratio']:.2f} "
            f"| {r['bare_1img_img_per_s']:.2f} | {r['cpu_prep_s']:.2f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
