"""OmegaConf resolvers used by the shipped configs."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

SAMPLE_DATA = Path(__file__).parents[1] / "sample_data"


def _tiny_model(name: str) -> str:
    # Imported here: building a tiny model needs torch, which --help must not pay for.
    from editbench.tiny import ensure_tiny_model

    return ensure_tiny_model(name)


def register_resolvers() -> None:
    """``${tiny_model:NAME}``: folder of a tiny model, built on first use;
    ``${sample_data:}``: the bundled sample benchmark."""
    OmegaConf.register_new_resolver("tiny_model", _tiny_model, replace=True)
    OmegaConf.register_new_resolver("sample_data", lambda: str(SAMPLE_DATA), replace=True)
