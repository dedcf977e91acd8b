"""dataset=hf: any Hugging Face dataset through `datasets`, read from local folders laid out like
the hub repository (no download happens in tests)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import datasets
import pytest
from hydra.utils import instantiate
from PIL import Image

from editbench.errors import EditbenchError
from editbench.sources.hf import load_hf

COLUMNS = {
    "id": "uid",
    "category": "kind",
    "instruction": "text",
    "images": ["photo", "photo2"],
    "reference_image": "target",
    "reference_text": "hint",
}


def _png(color: tuple[int, int, int], size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _rows(count: int = 3, **changes: Any) -> dict[str, list]:
    rows: dict[str, list] = {
        "uid": [f"s{i}" for i in range(count)],
        "kind": ["add" if i % 2 else "remove" for i in range(count)],
        "text": [f"instruction {i}" for i in range(count)],
        "photo": [{"bytes": _png((i * 40, 0, 0)), "path": f"{i}.png"} for i in range(count)],
        "photo2": [{"bytes": _png((0, i * 40, 0)), "path": f"{i}b.png"} for i in range(count)],
        "target": [{"bytes": _png((0, 0, i * 40)), "path": f"{i}t.png"} for i in range(count)],
        "hint": [f"hint {i}" if i else None for i in range(count)],
        "lang": ["en", "cn", "en"][:count] + ["en"] * max(0, count - 3),
    }
    rows.update(changes)
    return rows


FEATURES = {
    "uid": datasets.Value("string"),
    "kind": datasets.Value("string"),
    "text": datasets.Value("string"),
    "photo": datasets.Image(),
    "photo2": datasets.Image(),
    "target": datasets.Image(),
    "hint": datasets.Value("string"),
    "lang": datasets.Value("string"),
}


def _parquet(folder: Path, rows: dict[str, list], features: dict | None = None) -> Path:
    dataset = datasets.Dataset.from_dict(rows, features=datasets.Features(features or FEATURES))
    (folder / "data").mkdir(parents=True)
    dataset.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    return folder


def _load(folder: Path, cache: Path, **options: Any) -> list:
    return load_hf(
        str(folder), columns=options.pop("columns", COLUMNS), image_cache=str(cache), **options
    )


def test_a_parquet_folder_becomes_samples_with_every_field(tmp_path: Path) -> None:
    folder = _parquet(tmp_path / "hub", _rows())
    samples = _load(folder, tmp_path / "cache")

    assert [s.id for s in samples] == ["s0", "s1", "s2"]
    assert [s.category for s in samples] == ["remove", "add", "remove"]
    first = samples[1]
    assert first.instruction == "instruction 1"
    assert len(first.images) == 2 and first.reference_text == "hint 1"
    assert samples[0].reference_text is None  # a null hint is no hint
    # every column that holds no image stays a field under its own name, mapped ones too
    assert first.extra == {
        "uid": "s1",
        "kind": "add",
        "text": "instruction 1",
        "hint": "hint 1",
        "lang": "cn",
    }
    # Each image lies in the cache under the hash of its bytes, with its format's extension.
    for path, data in zip(
        [*first.images, first.reference_image],
        [_png((40, 0, 0)), _png((0, 40, 0)), _png((0, 0, 40))],
        strict=True,
    ):
        assert Path(path).name == hashlib.sha256(data).hexdigest() + ".png"
        assert Path(path).read_bytes() == data


def test_the_same_images_get_the_same_files_on_every_run(tmp_path: Path) -> None:
    folder = _parquet(tmp_path / "hub", _rows())
    first = _load(folder, tmp_path / "cache")
    written = {path: Path(path).stat().st_mtime_ns for s in first for path in s.images}
    again = _load(folder, tmp_path / "cache")

    assert [s.images for s in again] == [s.images for s in first]
    assert {path: Path(path).stat().st_mtime_ns for s in again for path in s.images} == written


def test_a_save_to_disk_folder_and_an_id_made_of_two_columns(tmp_path: Path) -> None:
    rows = _rows(uid=["k", "k", "j"])  # the same key in two languages, as GEdit-Bench's
    dataset = datasets.Dataset.from_dict(rows, features=datasets.Features(FEATURES))
    dataset.save_to_disk(str(tmp_path / "disk"))
    columns = {**COLUMNS, "id": ["uid", "lang"]}
    samples = _load(tmp_path / "disk", tmp_path / "cache", columns=columns)

    assert [s.id for s in samples] == ["k/en", "k/cn", "j/en"]
    assert samples[0].extra["uid"] == "k" and samples[0].extra["lang"] == "en"


def test_selection_where_and_subsets(tmp_path: Path) -> None:
    folder = _parquet(tmp_path / "hub", _rows())
    samples = _load(
        folder, tmp_path / "cache", where={"lang": "en"}, subsets={"cn": {"lang": "cn"}}
    )
    assert [s.id for s in samples] == ["s0", "s2"]

    with pytest.raises(EditbenchError, match=r"subsets.x: no sample has the field 'nope'"):
        _load(folder, tmp_path / "cache", subsets={"x": {"nope": 1}})
    with pytest.raises(
        EditbenchError, match=r"unknown category 'edit'.*categories are: remove, add"
    ):
        _load(folder, tmp_path / "cache", categories=["edit"])


def test_a_hub_id_must_pin_its_revision(tmp_path: Path) -> None:
    with pytest.raises(EditbenchError, match=r"without a revision.*dataset.revision=<commit sha>"):
        load_hf("owner/some-benchmark", image_cache=str(tmp_path))


def test_a_path_that_is_no_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(EditbenchError, match=r"is not a folder"):
        load_hf(str(tmp_path / "missing"), image_cache=str(tmp_path))
    (tmp_path / "file.parquet").write_bytes(b"not parquet")
    with pytest.raises(EditbenchError, match=r"is not a folder"):
        load_hf(str(tmp_path / "file.parquet"), image_cache=str(tmp_path))


def test_an_empty_or_unreadable_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EditbenchError, match=r"Cannot read the dataset .*empty"):
        load_hf(str(tmp_path / "empty"), image_cache=str(tmp_path))
    (tmp_path / "corrupt" / "data").mkdir(parents=True)
    (tmp_path / "corrupt" / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(EditbenchError, match=r"Cannot read the dataset .*corrupt"):
        load_hf(str(tmp_path / "corrupt"), image_cache=str(tmp_path))


def test_a_missing_split_is_named(tmp_path: Path) -> None:
    folder = _parquet(tmp_path / "hub", _rows())
    with pytest.raises(EditbenchError, match=r"split 'test'"):
        _load(folder, tmp_path / "cache", split="test")


def test_a_column_map_naming_missing_columns_lists_the_columns(tmp_path: Path) -> None:
    folder = _parquet(tmp_path / "hub", _rows())
    columns = {**COLUMNS, "category": "task_type", "images": ["photo", "input_image"], "bogus": "x"}
    with pytest.raises(EditbenchError) as raised:
        _load(folder, tmp_path / "cache", columns=columns)
    message = str(raised.value)
    assert "columns.category: no column 'task_type'" in message
    assert "columns.images[1]: no column 'input_image'" in message
    assert "columns.bogus: not a field" in message
    assert "uid, kind, text, photo" in message


def test_bad_cells_are_named_by_row_and_id(tmp_path: Path) -> None:
    rows = _rows(4)
    rows["text"][1] = None  # a null instruction
    rows["text"][2] = "   "  # an empty one
    rows["photo"][3] = {"bytes": b"\x89PNG but not really", "path": "x.png"}  # not an image
    folder = _parquet(tmp_path / "hub", rows)
    with pytest.raises(EditbenchError) as raised:
        _load(folder, tmp_path / "cache")
    message = str(raised.value)
    assert "row 1 (id 's1'): missing field 'instruction'" in message
    assert "row 2 (id 's2'): field 'instruction' is empty" in message
    shown = "images[0] {'bytes': <19 bytes>, 'path': 'x.png'}"
    assert f"row 3 (id 's3'): {shown} cannot be read" in message
    assert "BytesIO" not in message


def test_wrongly_typed_columns_and_duplicate_ids(tmp_path: Path) -> None:
    rows = _rows(3, uid=[1.5, "s", "s"])
    features = {**FEATURES, "uid": datasets.Value("string")}
    rows["uid"] = ["1.5", "s", "s"]
    rows["kind"] = ["a", "b", "c"]
    folder = _parquet(tmp_path / "hub", rows, features)
    with pytest.raises(EditbenchError, match=r"row 2 \(id 's'\): duplicate id 's'"):
        _load(folder, tmp_path / "cache")

    numbers = {**FEATURES, "kind": datasets.Value("int64")}
    folder = _parquet(tmp_path / "hub2", _rows(2, kind=[1, 2]), numbers)
    with pytest.raises(
        EditbenchError, match=r"field 'category' is 1 \(int\); expected a non-empty"
    ):
        _load(folder, tmp_path / "cache")


def test_a_truncated_image_is_caught_before_any_model_loads(tmp_path: Path) -> None:
    rows = _rows(2)
    whole = _png((200, 10, 10), size=(64, 64))
    rows["photo"][1] = {"bytes": whole[: len(whole) // 2], "path": "cut.png"}
    folder = _parquet(tmp_path / "hub", rows)
    with pytest.raises(EditbenchError, match=r"row 1 \(id 's1'\): images\[0\].*cannot be read"):
        _load(folder, tmp_path / "cache")


def test_integer_ids_are_read_as_text(tmp_path: Path) -> None:
    features = {**FEATURES, "uid": datasets.Value("int64")}
    folder = _parquet(tmp_path / "hub", _rows(uid=[7, 8, 9]), features)
    assert [s.id for s in _load(folder, tmp_path / "cache")] == ["7", "8", "9"]


def test_the_hf_option_composes_from_the_command_line(compose_config, tmp_path: Path) -> None:
    folder = _parquet(tmp_path / "hub", _rows())
    cfg = compose_config(
        "dataset=hf",
        f"dataset.path={folder}",
        "dataset.columns.id=uid",
        "dataset.columns.category=kind",
        "dataset.columns.instruction=text",
        "dataset.columns.images=[photo]",
    )
    samples = instantiate(cfg.dataset)
    assert [sample.id for sample in samples] == ["s0", "s1", "s2"]
    assert samples[1].category == "add" and samples[1].instruction == "instruction 1"
    assert Path(samples[0].image).read_bytes() == _png((0, 0, 0))
    assert Path(samples[0].image).is_relative_to(tmp_path / "store" / "dataset_images")
