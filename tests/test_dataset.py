"""Reading and validating dataset manifests, and the shipped sample benchmark."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editbench.dataset import CATEGORIES, load_samples
from editbench.errors import EditbenchError
from editbench.sample_data import generate

SAMPLE_DATA = Path(generate.__file__).parent

Writer = Callable[..., Path]


def _image_bytes(fmt: str) -> bytes:
    """A noisy 64x64 image, so that its encoding is long enough to cut in the middle."""
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _record(
    id: str = "s1",
    category: str = "physical",
    instruction: str = "Put a ball on the table.",
    image: str = "images/ok.png",
    **extra: object,
) -> dict[str, object]:
    return {"id": id, "category": category, "instruction": instruction, "image": image, **extra}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A dataset folder holding one valid image, ``images/ok.png``."""
    folder = tmp_path / "bench"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "ok.png").write_bytes(_image_bytes("PNG"))
    return folder


@pytest.fixture
def write(root: Path) -> Writer:
    """Write the manifest from records (dicts) or raw lines (strings); returns its path."""

    def write_manifest(*lines: dict[str, object] | str) -> Path:
        text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
        manifest = root / "manifest.jsonl"
        manifest.write_text(text + "\n", encoding="utf-8")
        return manifest

    return write_manifest


def _error(root: Path, **kwargs: object) -> str:
    with pytest.raises(EditbenchError) as info:
        load_samples(root, **kwargs)
    return str(info.value)


# -- reading --------------------------------------------------------------------------------------


def test_loads_samples_in_manifest_order(root: Path, write: Writer) -> None:
    write(_record("b", "social"), _record("a", "causal", "The glass falls."))
    samples = load_samples(root)
    assert [(s.id, s.category) for s in samples] == [("b", "social"), ("a", "causal")]
    assert samples[1].instruction == "The glass falls."
    assert samples[0].image == str((root / "images" / "ok.png").resolve())
    assert Path(samples[0].image).is_absolute()


def test_extra_fields_are_kept(root: Path, write: Writer) -> None:
    write(_record(tags=["indoor", "cups"], language="en"), _record("s2"))
    first, second = load_samples(root)
    assert first.extra == {"tags": ["indoor", "cups"], "language": "en"}
    assert second.extra == {}


def test_blank_lines_and_crlf_are_accepted(root: Path, write: Writer) -> None:
    manifest = write("", json.dumps(_record("s1")), "   ", json.dumps(_record("s2")), "")
    manifest.write_bytes(manifest.read_bytes().replace(b"\n", b"\r\n"))
    assert [s.id for s in load_samples(root)] == ["s1", "s2"]


def test_instruction_with_line_separator_stays_one_line(root: Path, write: Writer) -> None:
    write(_record(instruction="left\u2028right"))
    assert load_samples(root)[0].instruction == "left\u2028right"


# -- the folder -----------------------------------------------------------------------------------


def test_missing_root(tmp_path: Path) -> None:
    message = _error(tmp_path / "nowhere")
    assert "nowhere" in message and "does not exist" in message and "manifest.jsonl" in message


def test_root_without_manifest(root: Path) -> None:
    message = _error(root)
    assert str(root / "manifest.jsonl") in message and "no manifest.jsonl" in message


def test_empty_manifest(root: Path, write: Writer) -> None:
    write("")
    assert "no samples" in _error(root)


# -- lines and fields -----------------------------------------------------------------------------


def test_malformed_json_names_the_line(root: Path, write: Writer) -> None:
    manifest = write(_record(), '{"id": "s2", "category": ')
    message = _error(root)
    assert f"{manifest}:2: not valid JSON" in message
    assert "one JSON object per line" in message


def test_line_that_is_not_an_object(root: Path, write: Writer) -> None:
    manifest = write('["s1", "physical"]')
    assert f"{manifest}:1: a JSON list; expected an object" in _error(root)


def test_invalid_utf8_names_the_line(root: Path, write: Writer) -> None:
    manifest = write(_record())
    manifest.write_bytes(manifest.read_bytes() + b'{"id": "\xff"}\n')
    assert f"{manifest}:2: not valid UTF-8" in _error(root)


@pytest.mark.parametrize("field", ["id", "category", "instruction", "image"])
def test_missing_field(root: Path, write: Writer, field: str) -> None:
    record = _record("s2")
    del record[field]
    manifest = write(_record(), record)
    assert f"{manifest}:2: missing field {field!r}; expected a non-empty string" in _error(root)


@pytest.mark.parametrize("field", ["id", "instruction", "image"])
def test_empty_field(root: Path, write: Writer, field: str) -> None:
    manifest = write(_record(**{field: "  "}))
    assert f"{manifest}:1: field {field!r} is empty ('  ')" in _error(root)


def test_field_of_wrong_type(root: Path, write: Writer) -> None:
    manifest = write(_record(id=42))
    assert f"{manifest}:1: field 'id' is 42 (int); expected a non-empty string" in _error(root)


def test_unknown_category_lists_allowed_ones(root: Path, write: Writer) -> None:
    manifest = write(_record(category="physics"))
    message = _error(root)
    assert f"{manifest}:1: unknown category 'physics'" in message
    assert ", ".join(CATEGORIES) in message


def test_duplicate_id_names_both_lines(root: Path, write: Writer) -> None:
    manifest = write(_record("cup"), _record("other"), _record("cup"))
    assert f"{manifest}:3: duplicate id 'cup' (first on line 1)" in _error(root)


# -- image paths ----------------------------------------------------------------------------------


def test_absolute_image_path(root: Path, write: Writer) -> None:
    absolute = str(root / "images" / "ok.png")
    manifest = write(_record(image=absolute))
    message = _error(root)
    assert f"{manifest}:1: image {absolute!r} is an absolute path" in message
    assert "relative to" in message


def test_image_path_escaping_with_dotdot(root: Path, write: Writer) -> None:
    (root.parent / "outside.png").write_bytes(_image_bytes("PNG"))
    manifest = write(_record(image="images/../../outside.png"))
    message = _error(root)
    assert f"{manifest}:1: image 'images/../../outside.png' resolves to" in message
    assert "outside the dataset folder" in message


def test_image_symlink_leading_outside(root: Path, write: Writer) -> None:
    (root.parent / "outside.png").write_bytes(_image_bytes("PNG"))
    (root / "images" / "link.png").symlink_to(root.parent / "outside.png")
    manifest = write(_record(image="images/link.png"))
    assert f"{manifest}:1: image 'images/link.png' resolves to" in _error(root)


def test_symlink_inside_the_folder_is_resolved(root: Path, write: Writer) -> None:
    (root / "images" / "alias.png").symlink_to(root / "images" / "ok.png")
    write(_record(image="images/alias.png"))
    assert load_samples(root)[0].image == str((root / "images" / "ok.png").resolve())


def test_missing_image(root: Path, write: Writer) -> None:
    manifest = write(_record(image="images/gone.png"))
    assert f"{manifest}:1: image 'images/gone.png' not found at" in _error(root)


# -- image contents -------------------------------------------------------------------------------


def _write_image(root: Path, name: str, data: bytes) -> str:
    (root / "images" / name).write_bytes(data)
    return f"images/{name}"


def test_file_that_is_not_an_image(root: Path, write: Writer) -> None:
    manifest = write(_record(image=_write_image(root, "notes.png", b"not an image at all")))
    message = _error(root)
    assert f"{manifest}:1: image 'images/notes.png' cannot be read as an image" in message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("half.png", _image_bytes("PNG")[: len(_image_bytes("PNG")) // 2]),
        ("no_end.png", _image_bytes("PNG")[:-12]),  # pixel data whole, IEND chunk cut off
        ("half.jpg", _image_bytes("JPEG")[: len(_image_bytes("JPEG")) // 2]),
        ("no_end.jpg", _image_bytes("JPEG")[:-2]),  # end-of-image marker cut off
    ],
)
def test_truncated_image(root: Path, write: Writer, name: str, data: bytes) -> None:
    manifest = write(_record(image=_write_image(root, name, data)))
    message = _error(root)
    assert f"{manifest}:1: image 'images/{name}' cannot be read as an image" in message


def test_unselected_images_are_not_decoded(root: Path, write: Writer) -> None:
    broken = _write_image(root, "broken.png", b"broken")
    write(_record("s1"), _record("s2", "social", image=broken))
    assert [s.id for s in load_samples(root, categories=["physical"])] == ["s1"]


# -- reporting ------------------------------------------------------------------------------------


def test_every_problem_is_reported_together(root: Path, write: Writer) -> None:
    manifest = write(
        _record("s1", category="physics"),
        "not json",
        _record("s3", image="images/gone.png"),
        _record("s1"),
    )
    message = _error(root, categories=["chemistry"])
    header, *lines = message.splitlines()
    assert header == f"Dataset {root} has 5 problems:"
    # in line order, the arguments first, and the later of two duplicate lines named
    expected = [
        "categories: unknown category 'chemistry'",
        f"{manifest}:1: unknown category 'physics'",
        f"{manifest}:2: not valid JSON",
        f"{manifest}:3: image 'images/gone.png' not found",
        f"{manifest}:4: duplicate id 's1' (first on line 1)",
    ]
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(f"  {start}"), line


def test_long_reports_are_capped(root: Path, write: Writer) -> None:
    write(*(_record(f"s{i}", category="physics") for i in range(30)))
    message = _error(root)
    assert "has 30 problems" in message
    assert "... and 10 more" in message
    assert len(message.splitlines()) == 1 + 20 + 1


# -- filter and limit -----------------------------------------------------------------------------


@pytest.fixture
def mixed(root: Path, write: Writer) -> Path:
    write(
        _record("p1", "physical"),
        _record("s1", "social"),
        _record("p2", "physical"),
        _record("c1", "causal"),
        _record("p3", "physical"),
    )
    return root


def test_category_filter(mixed: Path) -> None:
    assert [s.id for s in load_samples(mixed, categories=["social", "causal"])] == ["s1", "c1"]


def test_category_filter_accepts_one_name(mixed: Path) -> None:
    assert [s.id for s in load_samples(mixed, categories="causal")] == ["c1"]


def test_unknown_category_in_filter(mixed: Path) -> None:
    message = _error(mixed, categories=["physical", "chemistry"])
    assert "categories: unknown category 'chemistry'" in message
    assert ", ".join(CATEGORIES) in message


def test_filter_matching_no_sample(mixed: Path) -> None:
    assert "categories: ['referential'] match no sample" in _error(
        mixed, categories=["referential"]
    )


def test_limit_applies_after_the_filter_in_manifest_order(mixed: Path) -> None:
    assert [s.id for s in load_samples(mixed, limit=2)] == ["p1", "s1"]
    assert [s.id for s in load_samples(mixed, categories=["physical"], limit=2)] == ["p1", "p2"]
    assert len(load_samples(mixed, limit=100)) == 5


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_invalid_limit(mixed: Path, limit: object) -> None:
    assert f"limit: {limit!r}; expected a positive integer" in _error(mixed, limit=limit)


# -- the shipped sample benchmark -----------------------------------------------------------------


def test_sample_data_loads_two_per_category() -> None:
    samples = load_samples(SAMPLE_DATA)
    assert len(samples) == 10
    assert Counter(s.category for s in samples) == dict.fromkeys(CATEGORIES, 2)
    assert any("tags" in s.extra for s in samples)
    for sample in samples:
        with Image.open(sample.image) as image:
            assert max(image.size) <= 512


def test_sample_data_is_what_the_script_draws(tmp_path: Path) -> None:
    generate.generate(tmp_path)
    shipped = (SAMPLE_DATA / "manifest.jsonl").read_text(encoding="utf-8")
    assert (tmp_path / "manifest.jsonl").read_text(encoding="utf-8") == shipped
    for spec in generate.SAMPLES:
        name = f"images/{spec.id}.png"
        with Image.open(tmp_path / name) as drawn, Image.open(SAMPLE_DATA / name) as stored:
            assert np.array_equal(np.asarray(drawn), np.asarray(stored)), name
