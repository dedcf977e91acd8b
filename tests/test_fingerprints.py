"""Fingerprints come from declared names: where a class lives is no part of what the store keys."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from editbench.editors.base import Editor
from editbench.judges.base import Judge
from editbench.records import EditRequest, Judgement, JudgeRequest
from editbench.store import edit_key

# Every module that ships an editor or a judge; a new one belongs here.
SHIPPED_MODULES = (
    "editbench.editors.diffusers_editor",
    "editbench.editors.precomputed",
    "editbench.judges.qwen3_vl",
    "editbench.judges.openai_api",
    "benchmarks.qwen_image_models",
    "benchmarks.qwen3_vl_models",
    "benchmarks.flux_kontext_models",
)
EXPECTED_NAMES = {
    "DiffusersEditor": "diffusers",
    "PrecomputedEditor": "precomputed",
    "Qwen3VLJudge": "qwen3_vl",
    "OpenAIJudge": "openai_api",
    "RandomWeightsQwenImageEditor": "diffusers_random_weights",
    "RandomWeightsQwen3VLJudge": "qwen3_vl_random_weights",
    "RandomWeightsFluxKontextEditor": "flux_kontext_random_weights",
}


def subclasses(base: type) -> Iterator[type]:
    for cls in base.__subclasses__():
        yield cls
        yield from subclasses(cls)


def shipped_classes() -> list[type]:
    for module in SHIPPED_MODULES:
        importlib.import_module(module)
    return [
        cls
        for base in (Editor, Judge)
        for cls in subclasses(base)
        if cls.__module__.startswith(("editbench.", "benchmarks."))
    ]


def build(cls: type, folder: Path) -> Any:
    """An instance of a shipped class, with made-up settings (nothing is loaded)."""
    if issubclass(cls, Judge):
        if "base_url" in cls.__init__.__code__.co_varnames:
            return cls("http://127.0.0.1:8000/v1", "org/judge")
        return cls("org/judge")
    if "root" in cls.__init__.__code__.co_varnames:
        Image.new("RGB", (4, 4)).save(folder / "s1.png")
        return cls(str(folder))
    return cls("org/editor")


def test_every_shipped_class_declares_its_own_name(tmp_path: Path):
    classes = shipped_classes()
    assert {cls.__name__: cls.name for cls in classes} == EXPECTED_NAMES
    assert all(cls.version == 1 for cls in classes)
    # A benchmark's random weights are not the checkpoint's: never the parent's identity.
    assert len({cls.name for cls in classes}) == len(classes)


def test_no_fingerprint_holds_a_module_path(tmp_path: Path):
    for cls in shipped_classes():
        fingerprint = build(cls, tmp_path).fingerprint()
        assert list(fingerprint)[:2] == ["name", "version"]
        assert (fingerprint["name"], fingerprint["version"]) == (cls.name, cls.version)
        assert "class" not in fingerprint
        text = json.dumps(fingerprint)
        for owner in cls.__mro__:
            assert owner.__module__ not in text, (cls, owner.__module__)
            assert owner.__qualname__ not in text, (cls, owner.__qualname__)


@pytest.mark.parametrize(
    "module",
    [
        "editbench.editors.diffusers_editor",
        "editbench.editors.precomputed",
        "editbench.judges.qwen3_vl",
        "editbench.judges.openai_api",
    ],
)
def test_moving_a_module_keeps_its_fingerprints(module: str, tmp_path: Path):
    """The module's own source, loaded under another module path, as after a regrouping."""
    original = importlib.import_module(module)
    moved_name = "relocated." + module.rsplit(".", 1)[-1]
    spec = importlib.util.spec_from_file_location(moved_name, original.__file__)
    moved = importlib.util.module_from_spec(spec)
    sys.modules[moved_name] = moved  # dataclasses in a module look it up while it loads
    try:
        spec.loader.exec_module(moved)
    finally:
        del sys.modules[moved_name]
    for cls in shipped_classes():
        if cls.__module__ != module:
            continue
        relocated = getattr(moved, cls.__name__)
        assert relocated is not cls and relocated.__module__ == moved_name
        folder = tmp_path / cls.__name__
        folder.mkdir()
        assert build(relocated, folder).fingerprint() == build(cls, folder).fingerprint()


class PlainEditor(Editor):
    """An editor with one setting, for the rules on names and versions."""

    name = "plain"
    version = 1

    def __init__(self, strength: float = 1.0) -> None:
        self.strength = strength

    def settings(self) -> dict[str, Any]:
        return {"strength": self.strength}

    def load(self, device: str) -> None:
        return

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | bytes]:
        return [Image.new("RGB", (4, 4)) for _ in requests]


def test_a_subclass_keeps_its_parents_identity_unless_it_declares_its_own():
    class Faster(PlainEditor):  # same outputs, another speed
        pass

    class Retrained(PlainEditor):  # other outputs
        name = "retrained"

    class Fixed(PlainEditor):  # the same editor, its outputs changed by a fix
        version = 2

    plain = PlainEditor().fingerprint()
    assert Faster().fingerprint() == plain == {"name": "plain", "version": 1, "strength": 1.0}
    assert Retrained().fingerprint() == {**plain, "name": "retrained"}
    assert Fixed().fingerprint() == {**plain, "version": 2}
    keys = {
        edit_key(editor().fingerprint(), "s1", "0" * 64, "make it blue", 0)
        for editor in (PlainEditor, Faster, Retrained, Fixed)
    }
    assert len(keys) == 3
    assert PlainEditor(2.0).fingerprint() != plain


def test_a_concrete_class_without_a_name_is_refused_when_defined():
    with pytest.raises(TypeError, match=r"Nameless declares name=None; expected a class attr"):

        class Nameless(Editor):
            version = 1

            def settings(self) -> dict[str, Any]:
                return {}

            def load(self, device: str) -> None:
                return

            def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | bytes]:
                return []

    with pytest.raises(TypeError, match=r"Unversioned declares version=None"):

        class Unversioned(Judge):
            name = "unversioned"

            def settings(self) -> dict[str, Any]:
                return {}

            def load(self, devices: Sequence[str]) -> None:
                return

            def score(self, requests: Sequence[JudgeRequest], prepared: Any = None) -> list:
                return [Judgement("ok", "Score: 5", 5.0) for _ in requests]


def test_an_abstract_class_needs_no_name_but_its_concrete_subclass_does():
    class Partial(Editor):  # still abstract: settings, load and edit are missing
        pass

    with pytest.raises(TypeError, match="Complete declares name=None"):

        class Complete(Partial):
            version = 1

            def settings(self) -> dict[str, Any]:
                return {}

            def load(self, device: str) -> None:
                return

            def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | bytes]:
                return []


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"name": "editbench.editors.plain.PlainEditor"}, "declares name='editbench.editors"),
        ({"name": "Plain"}, "declares name='Plain'"),
        ({"name": ""}, "declares name=''"),
        ({"name": 3}, "declares name=3"),
        ({"version": 0}, "declares version=0"),
        ({"version": True}, "declares version=True"),
        ({"version": "2"}, "declares version='2'"),
    ],
)
def test_a_bad_name_or_version_is_refused(attributes: dict[str, Any], message: str):
    with pytest.raises(TypeError, match=message):
        type("Bad", (PlainEditor,), attributes)


def test_no_class_builds_its_own_fingerprint():
    with pytest.raises(TypeError, match=r"Custom defines fingerprint\(\); .* override settings"):

        class Custom(PlainEditor):
            def fingerprint(self) -> dict[str, Any]:
                return {"class": f"{type(self).__module__}.{type(self).__qualname__}"}


@pytest.mark.parametrize("key", ["name", "version", "class"])
def test_settings_cannot_hold_the_identity_keys(key: str):
    class Sneaky(PlainEditor):
        def settings(self) -> dict[str, Any]:
            return {**super().settings(), key: "editbench.editors.sneaky.Sneaky"}

    reserved = rf"settings of 'plain' hold the reserved key\(s\) \['{key}'\]"
    with pytest.raises(TypeError, match=reserved):
        Sneaky().fingerprint()
