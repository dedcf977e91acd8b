"""PrecomputedEditor: edits made elsewhere, matched by sample id, judged through the real run."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from PIL import Image, ImageColor

from editbench.config.resolvers import SAMPLE_DATA
from editbench.editors.precomputed import PrecomputedEditor
from editbench.errors import EditbenchError, SampleError
from editbench.records import EditRequest
from editbench.run import run
from editbench.sources.manifest import load_manifest
from editbench.store import Store, file_sha256


def request(sample_id: str, **fields: object) -> EditRequest:
    """The request of sample ``sample_id``, whose fields are its id and ``fields``."""
    values = {"id": sample_id, "category": "color", "instruction": "make it blue", **fields}
    return EditRequest(sample_id, ("/unused/source.png",), "make it blue", 0, values)


def decoded(edit: Image.Image | bytes) -> Image.Image:
    """An edit as an image: an RGB PNG comes back as its file's bytes."""
    return Image.open(io.BytesIO(edit)) if isinstance(edit, bytes) else edit


def write_image(path: Path, size: tuple[int, int] = (48, 32), color: str = "red") -> Path:
    Image.new("RGB", size, color).save(path)
    return path


def test_matches_the_id_exactly_with_any_extension_case(tmp_path: Path) -> None:
    write_image(tmp_path / "plain.png")
    write_image(tmp_path / "upper.JPG")
    write_image(tmp_path / "dotted.v2.jpeg")
    write_image(tmp_path / "with space é.webp")
    write_image(tmp_path / "Plain.png", color="blue")  # another id: matching is case-sensitive
    editor = PrecomputedEditor(str(tmp_path))
    ids = ["plain", "upper", "dotted.v2", "with space é", "Plain"]

    editor.check([request(sample_id) for sample_id in ids])
    red, *_, blue = editor.edit([request(sample_id) for sample_id in ids])

    assert decoded(red).getpixel((0, 0)) == (255, 0, 0)
    assert decoded(blue).getpixel((0, 0)) == (0, 0, 255)


def test_files_that_are_not_images_of_an_id_are_ignored(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("notes")
    (tmp_path / "a.gif").write_bytes(b"GIF89a")
    (tmp_path / ".png").write_bytes(b"")
    (tmp_path / "b.png").mkdir()

    editor = PrecomputedEditor(str(tmp_path))

    editor.check([request("a")])
    with pytest.raises(EditbenchError, match="'b': no image"):
        editor.check([request("b")])


def test_several_images_for_one_id_are_named(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png")
    write_image(tmp_path / "a.jpg")

    with pytest.raises(EditbenchError) as caught:
        PrecomputedEditor(str(tmp_path)).check([request("a")])

    assert "'a': 2 images (a.jpg, a.png); expected exactly one" in str(caught.value)


def test_every_missing_id_is_listed_with_its_expected_file_names(tmp_path: Path) -> None:
    write_image(tmp_path / "present.png")
    (tmp_path / "broken.png").write_text("not an image")
    ids = ["present", "broken", "a/b", *(f"missing-{i:02d}" for i in range(25))]

    with pytest.raises(EditbenchError) as caught:
        PrecomputedEditor(str(tmp_path)).check([request(sample_id) for sample_id in ids])

    message = str(caught.value)
    assert f"Edits folder {tmp_path.resolve()} has no usable image for 27 of 28 samples" in message
    assert "'broken': broken.png cannot be read as an image" in message
    assert "'a/b': the id contains '/'" in message
    expected = "missing-00.png, missing-00.jpg, missing-00.jpeg, missing-00.webp"
    assert f"'missing-00': no image; expected one of {expected}" in message
    assert "'missing-17'" in message and "'missing-18'" not in message  # 20 listed
    assert message.endswith("... and 7 more")
    assert "'present'" not in message


def test_edit_returns_the_file_as_rgb_at_its_own_size(tmp_path: Path) -> None:
    Image.new("RGBA", (40, 24), (0, 128, 255, 100)).save(tmp_path / "s1.png")
    Image.new("L", (24, 16), 200).save(tmp_path / "s2.jpg")
    editor = PrecomputedEditor(str(tmp_path))
    editor.load("cpu")

    first, second = editor.edit([request("s1"), request("s2")])

    assert (first.mode, first.size, first.getpixel((0, 0))) == ("RGB", (40, 24), (0, 128, 255))
    assert (second.mode, second.size) == ("RGB", (24, 16))


def test_an_rgb_png_is_passed_on_as_its_bytes_and_stored_as_they_are(tmp_path: Path) -> None:
    edits = tmp_path / "edits"
    edits.mkdir()
    path = write_image(edits / "s1.png", color="blue")
    (edit,) = PrecomputedEditor(str(edits)).edit([request("s1")])
    assert edit == path.read_bytes()

    store = Store(tmp_path / "store")
    record = store.write_edit("ab" + "0" * 62, edit, {"sample_id": "s1"})
    assert store.edit_image_path("ab" + "0" * 62).read_bytes() == path.read_bytes()
    assert record["image_sha256"] == file_sha256(path)
    assert store.read_edit("ab" + "0" * 62) == record


def test_a_damaged_png_fails_its_sample_named_not_stored(tmp_path: Path) -> None:
    data = write_image(tmp_path / "s1.png", size=(64, 64)).read_bytes()
    (tmp_path / "s1.png").write_bytes(data[: len(data) - 20])  # cut inside its last chunks
    path = re.escape(str(tmp_path.resolve() / "s1.png"))
    expected = rf"sample 's1': the edit {path} cannot be read as an image"
    with pytest.raises(SampleError, match=expected):
        PrecomputedEditor(str(tmp_path)).edit([request("s1")])


def test_edit_of_an_unmatched_id_names_it(tmp_path: Path) -> None:
    with pytest.raises(EditbenchError, match=r"'ghost' in .+: no image"):
        PrecomputedEditor(str(tmp_path)).edit([request("ghost")])


def test_fingerprint_changes_when_a_file_changes_and_not_otherwise(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png")
    write_image(tmp_path / "b.png")
    before = PrecomputedEditor(str(tmp_path)).fingerprint()

    (tmp_path / "notes.txt").write_text("not an image: no part of the fingerprint")
    assert PrecomputedEditor(str(tmp_path)).fingerprint() == before

    write_image(tmp_path / "b.png", color="blue")
    replaced = PrecomputedEditor(str(tmp_path)).fingerprint()
    assert replaced != before
    assert replaced["name"] == "precomputed"
    assert replaced["root"] == str(tmp_path.resolve())

    (tmp_path / "b.png").rename(tmp_path / "c.png")
    assert PrecomputedEditor(str(tmp_path)).fingerprint() != replaced


def test_fingerprint_is_computed_once_per_editor(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png")
    editor = PrecomputedEditor(str(tmp_path))
    first = editor.fingerprint()

    write_image(tmp_path / "a.png", color="blue")

    assert editor.fingerprint() == first  # the file changed since: no second reading


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{tmp_path / 'nope'}' does not exist")):
        PrecomputedEditor(str(tmp_path / "nope"))
    image = write_image(tmp_path / "a.png")
    with pytest.raises(ValueError, match=re.escape(f"'{image}' is not a directory")):
        PrecomputedEditor(str(image))


def compose_precomputed(
    compose_config: Callable[..., DictConfig], root: Path, *overrides: str
) -> DictConfig:
    return compose_config(
        "experiment=demo",
        "tracking=none",
        "dataset.limit=4",
        "editor=precomputed",
        f"editor.root={root}",
        *overrides,
    )


def test_a_run_judges_the_folder_and_fails_early_on_a_missing_image(
    compose_config: Callable[..., DictConfig], tmp_path: Path
) -> None:
    edits = tmp_path / "edits"
    edits.mkdir()
    samples = load_manifest(SAMPLE_DATA, limit=4)
    colors = ["red", "green", "blue", "white"]
    for sample, color in zip(samples, colors, strict=True):
        write_image(edits / f"{sample.id}.png", size=(64, 64), color=color)

    results = run(compose_precomputed(compose_config, edits), tmp_path / "run")

    assert results["work"]["edits_done"] == 4
    assert results["work"]["judgements_done"] == 4
    assert results["overall"]["judged"] == 4
    lines = (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["id"] for row in rows] == [sample.id for sample in samples]
    for row, color in zip(rows, colors, strict=True):
        with Image.open(row["edited_image"]) as stored:
            assert stored.getpixel((0, 0)) == ImageColor.getrgb(color)

    (edits / f"{samples[2].id}.png").unlink()
    store = tmp_path / "other-store"
    cfg = compose_precomputed(compose_config, edits, f"store.root={store}")
    with pytest.raises(EditbenchError, match=re.escape(f"'{samples[2].id}': no image")):
        run(cfg, tmp_path / "failed")
    assert not store.exists()  # no worker started


def test_cli_without_a_root_names_the_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            "editor=precomputed",
            "tracking=none",
            f"store.root={tmp_path / 'store'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 2
    assert "editor.root" in result.stderr
    assert "Traceback" not in result.stderr


# -- a path pattern: edits laid out as a benchmark releases them ---------------------------------

GEDIT = "{task_type}/{instruction_language}/{key}.png"


def gedit_request(key: str, task_type: str = "color_alter", language: str = "en") -> EditRequest:
    return request(f"{key}/{language}", key=key, task_type=task_type, instruction_language=language)


def test_a_pattern_finds_each_edit_by_the_samples_fields(tmp_path: Path) -> None:
    (tmp_path / "color_alter" / "en").mkdir(parents=True)
    (tmp_path / "color_alter" / "cn").mkdir(parents=True)
    write_image(tmp_path / "color_alter" / "en" / "k1.png", color="red")
    write_image(tmp_path / "color_alter" / "cn" / "k1.png", color="blue")
    write_image(tmp_path / "k1.png", color="white")  # not where the pattern looks
    editor = PrecomputedEditor(str(tmp_path), pattern=GEDIT)
    requests = [gedit_request("k1"), gedit_request("k1", language="cn")]

    editor.check(requests)
    red, blue = editor.edit(requests)

    assert decoded(red).getpixel((0, 0)) == (255, 0, 0)
    assert decoded(blue).getpixel((0, 0)) == (0, 0, 255)


def test_a_pattern_without_an_extension_takes_any_of_the_four(tmp_path: Path) -> None:
    (tmp_path / "images" / "color").mkdir(parents=True)
    write_image(tmp_path / "images" / "color" / "1.jpg", color="green")
    write_image(tmp_path / "images" / "color" / "2.webp", color="blue")
    editor = PrecomputedEditor(str(tmp_path), pattern="images/{category}/{id}")
    editor.check([request("1"), request("2")])
    green, blue = editor.edit([request("1"), request("2")])
    assert decoded(green).getpixel((0, 0))[1] > 100 and decoded(blue).getpixel((0, 0))[2] > 200


def test_a_pattern_without_an_extension_takes_it_in_any_case(tmp_path: Path) -> None:
    (tmp_path / "color").mkdir()
    write_image(tmp_path / "color" / "1.PNG")
    PrecomputedEditor(str(tmp_path), pattern="{category}/{id}").check([request("1")])


def test_a_missing_edit_names_the_paths_the_pattern_expected(tmp_path: Path) -> None:
    editor = PrecomputedEditor(str(tmp_path), pattern="images/{category}/{id}")
    with pytest.raises(EditbenchError) as caught:
        editor.check([request("7")])
    message = str(caught.value)
    assert "expected exactly one file at the pattern 'images/{category}/{id}' per sample" in message
    assert (
        f"'7': no image; expected images/color/7.<png|jpg|jpeg|webp> under {tmp_path.resolve()}"
    ) in message
    with_extension = PrecomputedEditor(str(tmp_path), pattern=GEDIT)
    with pytest.raises(EditbenchError, match=r"'k1/en': no image; expected color_alter/en/k1\.png"):
        with_extension.check([gedit_request("k1")])


def test_two_files_for_one_edit_are_named(tmp_path: Path) -> None:
    write_image(tmp_path / "1.png")
    write_image(tmp_path / "1.jpg")
    with pytest.raises(
        EditbenchError, match=r"'1': 2 images \(1\.jpg, 1\.png\); expected exactly one"
    ):
        PrecomputedEditor(str(tmp_path), pattern="{id}").check([request("1")])


def test_a_field_leading_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "edits"
    (root / "color").mkdir(parents=True)
    write_image(tmp_path / "secret.png")
    (root / "color" / "link.png").symlink_to(tmp_path / "secret.png")
    editor = PrecomputedEditor(str(root), pattern="{category}/{id}.png")

    with pytest.raises(EditbenchError) as caught:
        editor.check([request("../../secret"), request("link")])
    message = str(caught.value)
    assert (
        f"'../../secret': 'color/../../secret.png' leads outside {root.resolve()}; expected a "
        "path inside it"
    ) in message
    assert f"'link': 'color/link.png' leads outside {root.resolve()}" in message
    with pytest.raises(EditbenchError, match="leads outside"):
        editor.edit([request("../../secret")])


def test_a_field_holding_an_absolute_path_is_listed(tmp_path: Path) -> None:
    editor = PrecomputedEditor(str(tmp_path), pattern="{id}")
    with pytest.raises(EditbenchError, match="'/nowhere/x'"):
        editor.check([request("/nowhere/x")])


def test_a_field_the_sample_lacks_is_named_with_the_samples_fields(tmp_path: Path) -> None:
    editor = PrecomputedEditor(str(tmp_path), pattern="{task}/{id}.png")
    with pytest.raises(EditbenchError) as caught:
        editor.check([request("1", language="en")])
    assert (
        "'1': pattern '{task}/{id}.png' names the field 'task', which the sample does not have; "
        "its fields are: category, id, instruction, language"
    ) in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("edit.png", "pattern 'edit.png' names no field"),
        ("{}.png", "pattern '{}.png' names no field"),
        ("", "pattern '' names no field"),
        ("{id.png", "pattern '{id.png' is not a path pattern"),
        ("id}.png", "pattern 'id}.png' is not a path pattern"),
    ],
)
def test_a_pattern_is_checked_when_the_editor_is_built(
    tmp_path: Path, pattern: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        PrecomputedEditor(str(tmp_path), pattern=pattern)


def test_with_a_pattern_every_image_below_the_root_is_in_the_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    write_image(tmp_path / "a" / "b" / "1.png")
    write_image(tmp_path / "top.jpg")
    before = PrecomputedEditor(str(tmp_path), pattern="a/b/{id}").fingerprint()
    assert before["pattern"] == "a/b/{id}"
    assert PrecomputedEditor(str(tmp_path), pattern="a/{id}").fingerprint() != before
    assert "pattern" not in PrecomputedEditor(str(tmp_path)).fingerprint()

    (tmp_path / "a" / "notes.txt").write_text("not an image")
    assert PrecomputedEditor(str(tmp_path), pattern="a/b/{id}").fingerprint() == before

    changes = [
        lambda: write_image(tmp_path / "a" / "b" / "1.png", color="blue"),  # a matched file
        lambda: write_image(tmp_path / "top.jpg", color="blue"),  # one no sample matches
        lambda: write_image(tmp_path / "a" / "b" / "2.webp"),  # a new one
        lambda: (tmp_path / "a" / "b" / "1.png").rename(tmp_path / "a" / "1.png"),  # moved
    ]
    seen = [before]
    for change in changes:
        change()
        seen.append(PrecomputedEditor(str(tmp_path), pattern="a/b/{id}").fingerprint())
    assert len({json.dumps(fingerprint, sort_keys=True) for fingerprint in seen}) == len(seen)


def test_a_run_finds_edits_by_the_pattern_it_is_given(
    compose_config: Callable[..., DictConfig], tmp_path: Path
) -> None:
    edits = tmp_path / "edits"
    samples = load_manifest(SAMPLE_DATA, limit=4)
    for sample in samples:
        (edits / sample.category).mkdir(parents=True, exist_ok=True)
        write_image(edits / sample.category / f"{sample.id}.webp")
    pattern = "editor.pattern='{category}/{id}'"  # quoted, as on the command line
    summary = run(
        compose_precomputed(compose_config, edits, pattern, "dry_run=true"), tmp_path / "r"
    )
    assert summary["edits_to_do"] == 4

    (edits / samples[1].category / f"{samples[1].id}.webp").unlink()
    with pytest.raises(EditbenchError, match=re.escape(f"'{samples[1].id}': no image; expected")):
        run(compose_precomputed(compose_config, edits, pattern, "dry_run=true"), tmp_path / "f")
