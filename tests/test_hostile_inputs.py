"""Hostile images against every dataset source and the precomputed editor: a file with damaged
pixel data behind valid checksums, a cut file, a 1x5000 sliver and a missing file are each
refused before any model loads, naming the file; a 16-bit PNG is taken and read as its
gradient. Each source reads a small copy of its preset's layout
(``python -m editbench.sample_data.benchmarks``); no model loads."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from PIL import Image

from editbench.config.resolvers import SAMPLE_DATA
from editbench.editors.precomputed import PrecomputedEditor
from editbench.errors import EditbenchError, SampleError
from editbench.images import open_rgb
from editbench.records import EditRequest, Sample
from editbench.sample_data.benchmarks import write as write_layout
from editbench.sources.hf import load_hf

from .test_images import RAMP_16, encoded, smooth_rgb, with_damaged_idat

PARQUET = "data/train-00000-of-00001.parquet"
HOSTILE = ("damaged", "cut", "sliver", "missing")


# -- each source: its layout, the file to spoil, the config that reads it -------------------------


@dataclass(frozen=True)
class Source:
    name: str
    target: str  # the image file to spoil, relative to the layout's folder
    overrides: Callable[[Path], list[str]]  # the dataset config reading a copy at this folder


SOURCES = {
    "manifest": Source(
        "manifest",
        "images/physical-chrome-ball.png",
        lambda root: ["dataset=sample", f"dataset.root={root}"],
    ),
    "imgedit": Source(
        "imgedit",
        "Benchmark/singleturn/for_add/000236569.jpg",
        lambda root: ["dataset=imgedit", f"dataset.root={root}"],
    ),
    "kris_bench": Source(
        "kris_bench",
        "chemistry/1.png",
        lambda root: ["dataset=kris_bench", f"dataset.root={root}"],
    ),
    "rise_bench": Source(
        "rise_bench",
        "data/causal_reasoning_images/1.png",
        lambda root: ["dataset=rise_bench", f"dataset.root={root}"],
    ),
}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each source's layout, written once; the tests spoil copies of it."""
    folder = tmp_path_factory.mktemp("layouts")
    shutil.copytree(SAMPLE_DATA, folder / "manifest")
    written = {"manifest": folder / "manifest"}
    for name in ("imgedit", "kris_bench", "rise_bench", "gedit_bench"):
        written[name] = write_layout(name, folder / name)
    return written


def spoiled(path: Path, how: str) -> None:
    """Replace the image at ``path`` by a hostile one, in its own format where it has one."""
    data = path.read_bytes()
    if how == "damaged":
        path.write_bytes(with_damaged_idat(encoded(smooth_rgb())))
    elif how == "cut":
        path.write_bytes(data[: len(data) // 2])
    elif how == "sliver":
        image_format = "JPEG" if path.suffix == ".jpg" else "PNG"
        path.write_bytes(encoded(Image.new("RGB", (1, 5000), "red"), image_format))
    else:
        path.unlink()


def dataset_error(compose_config: Callable[..., DictConfig], *overrides: str) -> str:
    """The message of the EditbenchError that validation's first step raises."""
    cfg = compose_config("experiment=demo", *overrides)
    with pytest.raises((EditbenchError, InstantiationException)) as raised:
        instantiate(cfg.dataset)  # as config.validate.validate builds the samples
    error = raised.value
    cause = error if isinstance(error, EditbenchError) else error.__cause__
    assert isinstance(cause, EditbenchError), error
    return str(cause)


EXPECTED = {
    "damaged": "cannot be read as an image (damaged image data in chunk IDAT",
    "cut": "cannot be read as an image",
    "sliver": "is 1x5000 pixels; expected at least 16 pixels on each side",
}


@pytest.mark.parametrize("how", HOSTILE)
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_hostile_image_file_is_refused_naming_it(
    compose_config: Callable[..., DictConfig],
    layouts: dict[str, Path],
    tmp_path: Path,
    name: str,
    how: str,
) -> None:
    source = SOURCES[name]
    root = shutil.copytree(layouts[name], tmp_path / name)
    spoiled(root / source.target, how)

    message = dataset_error(compose_config, *source.overrides(root))

    (line,) = [line for line in message.splitlines() if Path(source.target).name in line]
    if how in EXPECTED:
        assert EXPECTED[how] in line
    else:
        assert "not found" in line or "does not exist" in line, line


# -- sources of image bytes: a table's image cells ------------------------------------------------


def hostile_cell(how: str) -> dict[str, Any]:
    """An image cell of a Hugging Face dataset, as ``datasets`` stores one, that is hostile."""
    if how == "missing":
        return {"bytes": None, "path": "missing.png"}  # a file that is not there
    data = {
        "damaged": with_damaged_idat(encoded(smooth_rgb())),
        "cut": encoded(smooth_rgb())[:100],
        "sliver": encoded(Image.new("RGB", (1, 5000))),
    }[how]
    return {"bytes": data, "path": f"{how}.png"}


def rewrite_parquet(file: Path, column: str, row: int, cell: dict[str, Any]) -> None:
    """``file`` with one image cell replaced as it is (``datasets`` would read a path cell's
    file to embed it), its schema and features kept."""
    table = pq.read_table(file)
    cells = table.column(column).to_pylist()
    cells[row] = cell
    field = table.schema.field(column)
    index = table.schema.get_field_index(column)
    pq.write_table(table.set_column(index, field, pa.array(cells, type=field.type)), file)


@pytest.mark.parametrize("how", HOSTILE)
def test_gedit_bench_refuses_a_hostile_image_naming_it(
    compose_config: Callable[..., DictConfig], layouts: dict[str, Path], tmp_path: Path, how: str
) -> None:
    root = shutil.copytree(layouts["gedit_bench"], tmp_path / "gedit")
    rewrite_parquet(root / PARQUET, "input_image", 0, hostile_cell(how))

    message = dataset_error(compose_config, "dataset=gedit_bench", f"dataset.path={root}")

    (line,) = [line for line in message.splitlines() if f"{how}.png" in line]
    assert line.startswith("  row 0 (id '") and "): images[0] {" in line
    assert EXPECTED.get(how, "names the file 'missing.png', which does not exist") in line


@pytest.mark.parametrize("how", HOSTILE)
def test_any_hf_dataset_refuses_a_hostile_image_naming_it(tmp_path: Path, how: str) -> None:
    rows = {
        "uid": ["a", "b"],
        "kind": ["add", "remove"],
        "text": ["add a hat", "remove the cup"],
        "photo": [{"bytes": encoded(smooth_rgb()), "path": f"fine-{i}.png"} for i in range(2)],
    }
    features = {
        "uid": datasets.Value("string"),
        "kind": datasets.Value("string"),
        "text": datasets.Value("string"),
        "photo": datasets.Image(),
    }
    (tmp_path / "hub" / "data").mkdir(parents=True)
    dataset = datasets.Dataset.from_dict(rows, features=datasets.Features(features))
    dataset.to_parquet(str(tmp_path / "hub" / PARQUET))
    rewrite_parquet(tmp_path / "hub" / PARQUET, "photo", 1, hostile_cell(how))
    columns = {"id": "uid", "category": "kind", "instruction": "text", "images": ["photo"]}

    with pytest.raises(EditbenchError) as raised:
        load_hf(str(tmp_path / "hub"), columns=columns, image_cache=str(tmp_path / "cache"))

    (line,) = [line for line in str(raised.value).splitlines() if f"{how}.png" in line]
    assert line.startswith("  row 1 (id 'b'): images[0]")
    assert EXPECTED.get(how, "names the file 'missing.png', which does not exist") in line


# -- a 16-bit image is taken, and read as what it shows -------------------------------------------


def test_a_16_bit_source_image_is_taken_and_read_as_its_gradient(
    compose_config: Callable[..., DictConfig], layouts: dict[str, Path], tmp_path: Path
) -> None:
    root = shutil.copytree(layouts["manifest"], tmp_path / "manifest")
    Image.fromarray(RAMP_16).save(root / SOURCES["manifest"].target)
    cfg = compose_config("experiment=demo", *SOURCES["manifest"].overrides(root))

    samples: list[Sample] = instantiate(cfg.dataset)

    (sample,) = [s for s in samples if s.image.endswith(SOURCES["manifest"].target)]
    red = np.asarray(open_rgb(sample.image))[0, :, 0]
    assert (red[0], red[-1]) == (0, 255) and len(set(red.tolist())) > 32


# -- precomputed edits ----------------------------------------------------------------------------


def edit_request(sample_id: str) -> EditRequest:
    return EditRequest(sample_id, ("/unused/source.png",), "make it blue", 0)


def test_a_precomputed_edit_damaged_behind_valid_checksums_fails_its_sample(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s1.png"
    path.write_bytes(with_damaged_idat(encoded(smooth_rgb())))
    (tmp_path / "s2.png").write_bytes(encoded(smooth_rgb()))
    editor = PrecomputedEditor(str(tmp_path))
    editor.check([edit_request("s1"), edit_request("s2")])  # the header is whole

    with pytest.raises(SampleError) as raised:
        editor.edit([edit_request("s1")])

    message = str(raised.value)
    assert message.startswith(f"sample 's1': the edit {path.resolve()} cannot be read as an image")
    assert "damaged image data in chunk IDAT" in message
    (whole,) = editor.edit([edit_request("s2")])  # the others go on, stored as their bytes
    assert whole == (tmp_path / "s2.png").read_bytes()


def test_a_precomputed_sliver_is_refused_by_check_with_the_other_problems(tmp_path: Path) -> None:
    Image.new("RGB", (1, 5000)).save(tmp_path / "thin.png")
    Image.new("RGB", (5000, 20)).save(tmp_path / "wide.jpg")
    editor = PrecomputedEditor(str(tmp_path))

    with pytest.raises(EditbenchError) as raised:
        editor.check([edit_request(name) for name in ("thin", "wide", "gone")])

    message = str(raised.value)
    assert "has no usable image for 3 of 3 samples" in message
    assert "'thin': thin.png is 1x5000 pixels; expected at least 16 pixels on each side" in message
    assert "'wide': wide.jpg is 5000x20 pixels, an aspect ratio over 200:1" in message
    assert "'gone': no image" in message
    with pytest.raises(SampleError, match=r"'thin': the edit .+thin\.png is 1x5000 pixels"):
        editor.edit([edit_request("thin")])


def test_a_16_bit_precomputed_edit_is_read_as_its_gradient(tmp_path: Path) -> None:
    Image.fromarray(RAMP_16).save(tmp_path / "s1.png")
    (edit,) = PrecomputedEditor(str(tmp_path)).edit([edit_request("s1")])
    image = edit if isinstance(edit, Image.Image) else Image.open(io.BytesIO(edit))
    red = np.asarray(image.convert("RGB"))[0, :, 0]
    assert (red[0], red[-1]) == (0, 255) and len(set(red.tolist())) > 32
