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

from editbench.errors import EditbenchError
from editbench.sample_data import generate
from editbench.sources.manifest import load_manifest

SAMPLE_DATA = Path(generate.__file__).parent
SAMPLE_CATEGORIES = ("physical", "environment", "social", "causal", "referential")

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
        load_manifest(root, **kwargs)
    return str(info.value)


# -- reading --------------------------------------------------------------------------------------


def test_loads_samples_in_manifest_order(root: Path, write: Writer) -> None:
    write(_record("b", "social"), _record("a", "causal", "The glass falls."))
    samples = load_manifest(root)
    assert [(s.id, s.category) for s in samples] == [("b", "social"), ("a", "causal")]
    assert samples[1].instruction == "The glass falls."
    assert samples[0].image == str((root / "images" / "ok.png").resolve())
    assert Path(samples[0].image).is_absolute()


def test_extra_fields_are_kept(root: Path, write: Writer) -> None:
    write(_record(tags=["indoor", "cups"], language="en"), _record("s2"))
    first, second = load_manifest(root)
    assert first.extra == {"tags": ["indoor", "cups"], "language": "en"}
    assert second.extra == {}


def test_blank_lines_and_crlf_are_accepted(root: Path, write: Writer) -> None:
    manifest = write("", json.dumps(_record("s1")), "   ", json.dumps(_record("s2")), "")
    manifest.write_bytes(manifest.read_bytes().replace(b"\n", b"\r\n"))
    assert [s.id for s in load_manifest(root)] == ["s1", "s2"]


def test_instruction_with_line_separator_stays_one_line(root: Path, write: Writer) -> None:
    write(_record(instruction="left\u2028right"))
    assert load_manifest(root)[0].instruction == "left\u2028right"


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


@pytest.mark.parametrize("field", ["id", "category", "instruction"])
def test_missing_field(root: Path, write: Writer, field: str) -> None:
    record = _record("s2")
    del record[field]
    manifest = write(_record(), record)
    assert f"{manifest}:2: missing field {field!r}; expected a non-empty string" in _error(root)


def test_missing_image(root: Path, write: Writer) -> None:
    record = _record("s2")
    del record["image"]
    manifest = write(_record(), record)
    assert (
        f"{manifest}:2: missing field 'image'; expected an image, or 'images': a list of images"
    ) in _error(root)


@pytest.mark.parametrize("field", ["id", "category", "instruction"])
def test_empty_field(root: Path, write: Writer, field: str) -> None:
    manifest = write(_record(**{field: "  "}))
    assert f"{manifest}:1: field {field!r} is empty ('  ')" in _error(root)


@pytest.mark.parametrize("image", ["  ", "", 7, None, ["images/ok.png"]])
def test_image_that_is_not_a_path(root: Path, write: Writer, image: object) -> None:
    manifest = write(_record(image=image))
    assert (
        f"{manifest}:1: image {image!r} is not a path; expected a non-empty path relative to "
        "the dataset folder"
    ) in _error(root)


@pytest.mark.parametrize(("value", "shown"), [(4.5, "4.5 (float)"), (True, "True (bool)")])
def test_id_of_wrong_type(root: Path, write: Writer, value: object, shown: str) -> None:
    manifest = write(_record(id=value))
    assert (
        f"{manifest}:1: field 'id' is {shown}; expected a non-empty string or an integer"
    ) in _error(root)


def test_integer_id_is_its_decimal_string(root: Path, write: Writer) -> None:
    write(_record(id=42), _record(id="042"))
    assert [s.id for s in load_manifest(root)] == ["42", "042"]


def test_a_dataset_defines_its_own_categories(root: Path, write: Writer) -> None:
    write(_record("s1", "physics"), _record("s2", "Text Change / 文字"))
    assert [s.category for s in load_manifest(root)] == ["physics", "Text Change / 文字"]


def test_category_of_wrong_type(root: Path, write: Writer) -> None:
    manifest = write(_record(category=["physical"]))
    assert (
        f"{manifest}:1: field 'category' is ['physical'] (list); expected a non-empty string"
    ) in _error(root)


def test_duplicate_id_names_both_lines(root: Path, write: Writer) -> None:
    manifest = write(_record("cup"), _record("other"), _record("cup"))
    assert (
        f"{manifest}:3: duplicate id 'cup' (first at {manifest}:1); expected every id to be unique"
    ) in _error(root)


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
    assert load_manifest(root)[0].image == str((root / "images" / "ok.png").resolve())


def test_image_not_found(root: Path, write: Writer) -> None:
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
    assert [s.id for s in load_manifest(root, categories=["physical"])] == ["s1"]


# -- reporting ------------------------------------------------------------------------------------


def test_every_problem_is_reported_together(root: Path, write: Writer) -> None:
    manifest = write(
        _record("s1"),
        _record("s2", category=3),
        "not json",
        _record("s4", image="images/gone.png"),
        _record("s1"),
    )
    message = _error(root, categories=["chemistry"])
    header, *lines = message.splitlines()
    assert header == f"Dataset {root} has 5 problems:"
    # in line order, the arguments first, and the later of two duplicate lines named
    expected = [
        "categories: unknown category 'chemistry'; this dataset's categories are: physical",
        f"{manifest}:2: field 'category' is 3 (int)",
        f"{manifest}:3: not valid JSON",
        f"{manifest}:4: image 'images/gone.png' not found",
        f"{manifest}:5: duplicate id 's1' (first at {manifest}:1)",
    ]
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(f"  {start}"), line


def test_long_reports_are_capped(root: Path, write: Writer) -> None:
    write(*(_record(f"s{i}", image="images/gone.png") for i in range(30)))
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
    assert [s.id for s in load_manifest(mixed, categories=["social", "causal"])] == ["s1", "c1"]


def test_category_filter_accepts_one_name(mixed: Path) -> None:
    assert [s.id for s in load_manifest(mixed, categories="causal")] == ["c1"]


def test_unknown_category_in_filter_lists_the_datasets(mixed: Path) -> None:
    message = _error(mixed, categories=["physical", "chemistry"])
    assert (
        "categories: unknown category 'chemistry'; this dataset's categories are: "
        "physical, social, causal"
    ) in message


def test_filter_matching_no_sample(mixed: Path) -> None:
    message = _error(mixed, categories=["social"], where={"id": "p1"})
    assert "the selection (categories=['social'], where={'id': 'p1'}) matches no sample" in message


def test_limit_applies_after_the_filter_in_manifest_order(mixed: Path) -> None:
    assert [s.id for s in load_manifest(mixed, limit=2)] == ["p1", "s1"]
    assert [s.id for s in load_manifest(mixed, categories=["physical"], limit=2)] == ["p1", "p2"]
    assert len(load_manifest(mixed, limit=100)) == 5


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_invalid_limit(mixed: Path, limit: object) -> None:
    assert f"limit: {limit!r}; expected a positive integer" in _error(mixed, limit=limit)


# -- the shipped sample benchmark -----------------------------------------------------------------


def test_sample_data_loads_two_per_category() -> None:
    samples = load_manifest(SAMPLE_DATA)
    assert len(samples) == 10
    assert Counter(s.category for s in samples) == dict.fromkeys(SAMPLE_CATEGORIES, 2)
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


# -- several input images, references -------------------------------------------------------------


@pytest.fixture
def two_images(root: Path) -> Path:
    """A second valid image, ``images/two.png``, and a reference, ``refs/ref.png``."""
    (root / "images" / "two.png").write_bytes(_image_bytes("PNG"))
    (root / "refs").mkdir()
    (root / "refs" / "ref.png").write_bytes(_image_bytes("PNG"))
    return root


def _many(**fields: object) -> dict[str, object]:
    """A record with ``images`` instead of ``image``."""
    record = _record(**fields)
    del record["image"]
    return record | {"images": ["images/ok.png", "images/two.png"]} | fields


def test_several_input_images_in_order(two_images: Path, write: Writer) -> None:
    write(_many(), _many(id="s2", images=["images/two.png", "images/ok.png", "images/ok.png"]))
    first, second = load_manifest(two_images)
    ok, two = (str((two_images / "images" / n).resolve()) for n in ("ok.png", "two.png"))
    assert first.images == (ok, two) and first.image == ok
    assert second.images == (two, ok, ok)
    assert "images" not in first.extra and "image" not in first.extra


def test_a_single_image_is_a_one_image_tuple(root: Path, write: Writer) -> None:
    write(_record())
    (sample,) = load_manifest(root)
    assert sample.images == (str((root / "images" / "ok.png").resolve()),)


@pytest.mark.parametrize(
    ("images", "shown"),
    [("images/ok.png", "'images/ok.png'"), ([], "[]"), ({"a": "images/ok.png"}, "{'a': ...}")],
    ids=["a-string", "empty", "a-mapping"],
)
def test_images_that_are_not_a_list_of_images(
    two_images: Path, write: Writer, images: object, shown: str
) -> None:
    manifest = write(_many(images=images))
    message = _error(two_images)
    assert f"{manifest}:1: field 'images' is " in message
    assert "; expected a non-empty list of images" in message
    assert shown.split("...")[0] in message


def test_image_and_images_both_given(two_images: Path, write: Writer) -> None:
    manifest = write(_many(image="images/ok.png"))
    assert (
        f"{manifest}:1: fields 'image' and 'images' both given; expected one of them"
    ) in _error(two_images)


def test_each_input_image_is_checked_by_its_position(two_images: Path, write: Writer) -> None:
    broken = _write_image(two_images, "broken.png", b"not an image")
    (two_images.parent / "outside.png").write_bytes(_image_bytes("PNG"))
    manifest = write(
        _many(images=["images/ok.png", "../outside.png"]),
        _many(id="s2", images=["images/ok.png", broken]),
        _many(id="s3", images=["images/ok.png", 3]),
    )
    message = _error(two_images)
    assert f"{manifest}:1: images[1] '../outside.png' resolves to" in message
    assert f"{manifest}:2: images[1] 'images/broken.png' cannot be read as an image" in message
    assert f"{manifest}:3: images[1] 3 is not a path" in message


def test_reference_image_and_text(two_images: Path, write: Writer) -> None:
    write(
        _record(reference_image="refs/ref.png", reference_text="A red cup on the table."),
        _record("s2", reference_image=None, reference_text=""),
    )
    hinted, plain = load_manifest(two_images)
    assert hinted.reference_image == str((two_images / "refs" / "ref.png").resolve())
    assert hinted.reference_text == "A red cup on the table."
    assert hinted.fields()["reference_text"] == "A red cup on the table."
    assert (plain.reference_image, plain.reference_text) == (None, None)  # "" is no hint
    assert "reference_text" not in plain.fields()
    assert not {"reference_image", "reference_text"} & (hinted.extra.keys() | plain.extra.keys())


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("../outside.png", "reference_image '../outside.png' resolves to"),
        ("refs/gone.png", "reference_image 'refs/gone.png' not found at"),
        ("/etc/passwd", "reference_image '/etc/passwd' is an absolute path"),
        (["refs/ref.png"], "reference_image ['refs/ref.png'] is not a path"),
        ("refs/broken.png", "reference_image 'refs/broken.png' cannot be read as an image"),
    ],
)
def test_hostile_reference_image(
    two_images: Path, write: Writer, reference: object, problem: str
) -> None:
    (two_images.parent / "outside.png").write_bytes(_image_bytes("PNG"))
    (two_images / "refs" / "broken.png").write_bytes(_image_bytes("PNG")[:100])
    manifest = write(_record(reference_image=reference))
    assert f"{manifest}:1: {problem}" in _error(two_images)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(5, "5 (int)"), (["a"], "['a'] (list)"), ({"en": "a"}, "{'en': 'a'} (dict)")],
)
def test_reference_text_that_is_not_a_string(
    root: Path, write: Writer, value: object, shown: str
) -> None:
    manifest = write(_record(reference_text=value))
    assert (
        f"{manifest}:1: field 'reference_text' is {shown}; expected a string or null"
    ) in _error(root)


# -- where and subsets ----------------------------------------------------------------------------


@pytest.fixture
def languages(root: Path, write: Writer) -> Path:
    write(
        _record("a-en", "color", language="en", hard=True),
        _record("a-cn", "color", language="cn", hard=False),
        _record("b-en", "style", language="en", hard=False),
        _record("c-de", "style", language="de"),
        _record("d-en", "color", language="en", reference_text="red", hard=True),
    )
    return root


@pytest.mark.parametrize(
    ("where", "ids"),
    [
        ({"language": "en"}, ["a-en", "b-en", "d-en"]),
        ({"language": ["cn", "de"]}, ["a-cn", "c-de"]),
        ({"language": "en", "hard": True}, ["a-en", "d-en"]),
        ({"category": "style", "language": "en"}, ["b-en"]),
        ({"reference_text": "red"}, ["d-en"]),
        ({"id": ["c-de", "a-en"]}, ["a-en", "c-de"]),  # manifest order, not the filter's
    ],
)
def test_where_keeps_the_samples_whose_fields_match(
    languages: Path, where: dict, ids: list[str]
) -> None:
    assert [s.id for s in load_manifest(languages, where=where)] == ids


def test_where_applies_with_categories_then_the_limit(languages: Path) -> None:
    selected = load_manifest(languages, categories=["color"], where={"language": "en"}, limit=1)
    assert [s.id for s in selected] == ["a-en"]


def test_where_naming_a_field_no_sample_has(languages: Path) -> None:
    message = _error(languages, where={"lang": "en"})
    assert (
        "where: no sample has the field 'lang'; the samples' fields are: category, hard, id, "
        "instruction, language, reference_text"
    ) in message


@pytest.mark.parametrize("where", [{}, ["language"], "language=en"])
def test_where_that_is_not_a_filter(languages: Path, where: object) -> None:
    assert f"where: {where!r}; expected a mapping of field names to values" in _error(
        languages, where=where
    )


def test_subsets_select_nothing_but_must_name_known_fields(languages: Path) -> None:
    subsets = {"en": {"language": "en"}, "hard": {"hard": True, "category": ["color"]}}
    assert len(load_manifest(languages, subsets=subsets)) == 5
    message = _error(languages, subsets={"en": {"language": "en"}, "odd": {"lnag": "en"}, "x": []})
    assert "subsets.odd: no sample has the field 'lnag'" in message
    assert "subsets.x: []; expected a mapping of field names to values" in message
    assert "subsets.en" not in message
