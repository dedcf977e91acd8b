"""Tiny random-weight models of the real architectures, for tests, CI and the demo.

Each is built from the real diffusers / transformers classes with small configs under a fixed
seed, saved with ``save_pretrained`` into a cache folder on first use, and then loaded through
the same ``from_pretrained`` code path as the full-size model. Their outputs are meaningless;
they exist to exercise the real code path.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from pathlib import Path

from editbench.cache import cache_dir

# name -> "module:function" that writes a from_pretrained-loadable folder at a given path.
BUILDERS = {
    "qwen_image_edit": "editbench.tiny.qwen_image_edit:build",
    "flux_kontext": "editbench.tiny.flux_kontext:build",
    "instruct_pix2pix": "editbench.tiny.instruct_pix2pix:build",
    "instruct_pix2pix_xl": "editbench.tiny.instruct_pix2pix:build_xl",
    "longcat_image_edit": "editbench.tiny.longcat_image_edit:build",
    "flux2_klein": "editbench.tiny.flux2:build_klein",
    "omnigen": "editbench.tiny.omnigen:build",
    "joyimage_edit": "editbench.tiny.joyimage:build",
    "joyimage_edit_plus": "editbench.tiny.joyimage:build_plus",
    "qwen3_vl": "editbench.tiny.qwen3_vl:build_dense",
    "qwen3_vl_moe": "editbench.tiny.qwen3_vl:build_moe",
}
# Bump when a builder changes, so caches built by older code are not reused.
VERSION = 2


def cache_root() -> Path:
    """Where tiny models are kept: ``$EDITBENCH_CACHE/tiny`` or ``~/.cache/editbench/tiny``."""
    return cache_dir("tiny")


def ensure_tiny_model(name: str) -> str:
    """Return the folder of tiny model ``name``, building it first if it is not cached.

    Concurrent callers are safe: each builds into its own temporary folder and renames it
    into place; the first rename wins and the others discard their copy.
    """
    if name not in BUILDERS:
        raise ValueError(f"Unknown tiny model {name!r}; expected one of {sorted(BUILDERS)}")
    target = cache_root() / f"{name}-v{VERSION}"
    if target.is_dir():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    module_name, function_name = BUILDERS[name].split(":")
    build = getattr(importlib.import_module(module_name), function_name)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)
