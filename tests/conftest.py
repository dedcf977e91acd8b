"""Shared fixtures: compose the real config and shrink it to the test's tmp folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from editbench.config.resolvers import register_resolvers
from editbench.config.schema import ProtocolSchema, register_schemas
from editbench.protocols.spec import Protocol
from editbench.tiny import ensure_tiny_model

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

register_schemas()
register_resolvers()


@pytest.fixture(scope="session", autouse=True)
def tiny_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the tiny models once per test session, away from the user's cache.

    Subprocess tests inherit the variable, so the CLI reuses the same models."""
    cache = Path(
        os.environ.get("EDITBENCH_TEST_CACHE") or tmp_path_factory.mktemp("editbench-cache")
    )
    previous = os.environ.get("EDITBENCH_CACHE")
    os.environ["EDITBENCH_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("EDITBENCH_CACHE", None)
    else:
        os.environ["EDITBENCH_CACHE"] = previous


def local_overrides(tmp_path: Path) -> list[str]:
    """Keep every output of a run inside ``tmp_path``."""
    return [
        f"store.root={tmp_path / 'store'}",
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
    ]


def make_protocol(calls: dict[str, Any], **options: Any) -> Protocol:
    """A protocol as a ``conf/protocol/`` file would make it: ``calls`` and the protocol's
    ``options`` over the schema's defaults (typed, then plain data), named ``test`` unless
    ``options`` names it."""
    config = OmegaConf.merge(
        OmegaConf.structured(ProtocolSchema), {"name": "test", "calls": calls, **options}
    )
    return Protocol.from_config(OmegaConf.to_container(config, resolve=True, enum_to_str=True))


@pytest.fixture
def compose_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """``compose_config("experiment=demo", ...)``: the real config with the run kept in tmp_path."""

    def _compose(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("config", overrides=[*local_overrides(tmp_path), *overrides])

    return _compose


@pytest.fixture(scope="module")
def tiny_editor() -> str:
    """The tiny Qwen-Image-Edit pipeline, built in the session's cache."""
    return ensure_tiny_model("qwen_image_edit")


@pytest.fixture(scope="module")
def source_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small 96x64 gradient to edit."""
    path = tmp_path_factory.mktemp("images") / "source.png"
    Image.linear_gradient("L").resize((96, 64)).convert("RGB").save(path)
    return str(path)
