"""An editor's speed-ups that change its pixels: step caching and FP8 weights.

Each is an editor option, checked when the editor is built (before any model loads) and part
of every edit's fingerprint, so that a fast editor's edits never pass for the exact editor's.
Whether one is worth it is a benchmark question: run the exact editor and the fast one on the
same samples and compare them (``python -m editbench.compare``), which reports the speed-up
and the change in score with a paired 95% interval (docs/speedups.md).

**Step caching** (``editor.step_cache``) reuses or predicts the transformer's work between
denoising steps, with diffusers' cache hooks:

- ``taylorseer`` (TaylorSeerCacheConfig): computes every ``cache_interval``-th step after the
  first ``disable_cache_before_step`` and predicts the others from a Taylor expansion of the
  computed ones. A fixed schedule: the same steps are skipped whatever the weights.
- ``first_block`` (FirstBlockCacheConfig): runs the first block and skips the others when its
  output changed by less than ``threshold`` since the last computed step (cache-dit's DBCache
  with one front block). Adaptive: which steps are skipped depends on the trained weights.

**FP8 weights** (``editor.fp8``) for the transformer's linear layers:

- ``storage``: weights kept in float8 (e4m3) and cast to the editor's dtype layer by layer
  (diffusers' layerwise casting): about half the transformer's memory, no faster.
- ``matmul``: weights and activations in float8 with a scale per row, multiplied by FP8 tensor
  cores (torchao's Float8DynamicActivationFloat8WeightConfig): faster on GPUs of compute
  capability 8.9 or more (Ada, Hopper, Blackwell); needs torchao.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping
from typing import Any

import torch

from editbench.choices import Fp8
from editbench.errors import EditbenchError

# Method name → diffusers' config class; each class's fields are the method's options.
STEP_CACHES = {
    "taylorseer": "TaylorSeerCacheConfig",
    "first_block": "FirstBlockCacheConfig",
}
# Options that take Python objects (dtypes, callbacks) rather than values a config can hold.
_NOT_SETTABLE = frozenset({"taylor_factors_dtype"})
# torch._scaled_mm multiplies FP8 matrices whose sides are multiples of 16.
_FP8_ALIGNMENT = 16
FP8_MIN_CAPABILITY = (8, 9)


def step_cache_config(settings: Mapping[str, Any]) -> Any:
    """The diffusers cache config of ``settings`` (``{"method": ..., option: value, ...}``).

    Raises ``ValueError`` naming the method or option at fault and what is expected."""
    if not isinstance(settings, Mapping) or "method" not in settings:
        raise ValueError(
            f"editor.step_cache={settings!r}; expected a mapping with a method "
            f"({', '.join(STEP_CACHES)}) and its options, e.g. "
            "{method: taylorseer, cache_interval: 5}"
        )
    method = settings["method"]
    if not isinstance(method, str) or method not in STEP_CACHES:
        raise ValueError(
            f"editor.step_cache.method={method!r}; expected one of {sorted(STEP_CACHES)}"
        )
    import diffusers  # the parent imports it anyway, to read the pipeline's signature

    config_class = getattr(diffusers, STEP_CACHES[method])
    allowed = sorted(
        f.name
        for f in dataclasses.fields(config_class)
        if not f.name.startswith("_") and f.name not in _NOT_SETTABLE
    )
    options = {key: value for key, value in settings.items() if key != "method"}
    unknown = sorted(set(options) - set(allowed), key=str)
    if unknown:
        raise ValueError(
            f"editor.step_cache: {method} has no option {', '.join(map(repr, unknown))}; "
            f"expected some of {allowed}"
        )
    lite = options.get("use_lite_mode", False)
    if not isinstance(lite, bool):
        raise ValueError(f"editor.step_cache.use_lite_mode={lite!r}; expected true or false")
    _check_numbers(method, options)
    return config_class(**options)


def _check_numbers(method: str, options: Mapping[str, Any]) -> None:
    """Refuse the values the cache hooks would take and misuse without a word: a schedule
    that never computes, a negative step, a threshold that is not a number."""
    for key, least in {"cache_interval": 1, "max_order": 0}.items():
        value = options.get(key)
        if value is not None and (_not_whole(value) or value < least):
            raise ValueError(
                f"editor.step_cache.{key}={value!r}; expected a whole number of at least {least}"
            )
    for key in ("disable_cache_before_step", "disable_cache_after_step"):
        value = options.get(key)
        if value is not None and (_not_whole(value) or value < 0):
            raise ValueError(
                f"editor.step_cache.{key}={value!r}; expected a step number >= 0 or null"
            )
    if method == "first_block":
        threshold = options.get("threshold", 0.0)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not threshold >= 0
        ):
            raise ValueError(
                f"editor.step_cache.threshold={threshold!r}; expected a number >= 0 (the "
                "relative change of the first block's output under which the step is cached)"
            )


def _not_whole(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def check_fp8(mode: str | None) -> None:
    """Raise ``ValueError`` where ``mode`` is not an FP8 mode, or needs torchao and it is not
    installed; None (no FP8) is fine."""
    if mode is None:
        return
    if mode not in Fp8.values():
        raise ValueError(f"editor.fp8={mode!r}; expected one of {Fp8.values()} or null")
    if mode == Fp8.matmul and importlib.util.find_spec("torchao") is None:
        raise ValueError(
            "editor.fp8=matmul multiplies with torchao's FP8 kernels, and torchao is not "
            "installed; expected `pip install 'editbench[fp8]'` (or editor.fp8=storage, which "
            "needs nothing more)"
        )


def use_fp8(transformer: torch.nn.Module, mode: str, device: str, dtype: torch.dtype) -> None:
    """Put ``transformer``'s weights in FP8 as ``mode`` says (see the module's docstring).

    Raises :class:`EditbenchError` when ``mode`` is ``matmul`` and ``device`` has no FP8
    tensor cores: torchao would refuse, or emulate FP8 slower than the exact editor."""
    if mode == Fp8.storage:
        # diffusers keeps norms, embeddings and the output layer in the compute dtype.
        transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
        return
    capability = torch.cuda.get_device_capability(device) if device.startswith("cuda") else None
    if capability is None or capability < FP8_MIN_CAPABILITY:
        found = (
            "is the CPU"
            if capability is None
            else f"has compute capability {capability[0]}.{capability[1]}"
        )
        raise EditbenchError(
            f"editor.fp8=matmul needs FP8 tensor cores (a GPU of compute capability 8.9 or "
            f"more: Ada, Hopper, Blackwell); {device} {found}. Expected editor.fp8=storage "
            "or no FP8 there"
        )
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    quantize_(
        transformer,
        Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()),
        filter_fn=_fp8_ready,
    )


def _fp8_ready(module: torch.nn.Module, name: str) -> bool:
    """A linear layer whose sides FP8 matmuls take (multiples of 16)."""
    return (
        isinstance(module, torch.nn.Linear)
        and module.in_features % _FP8_ALIGNMENT == 0
        and module.out_features % _FP8_ALIGNMENT == 0
    )
