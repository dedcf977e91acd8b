import json
import re
import subprocess
import sys

import pytest
from PIL import Image

from editbench.errors import EditbenchError
from editbench.run import run
from editbench.store import FORMAT, FORMAT_FILE, Store, content_hash

from .conftest import local_overrides


def test_content_hash_ignores_key_order_and_sees_values():
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_edit_roundtrip_and_torn_image_is_redone(tmp_path):
    store = Store(tmp_path)
    key = "ab" + "0" * 62
    assert store.read_edit(key) is None
    record = store.write_edit(key, Image.new("RGB", (8, 8), "red"), {"sample_id": "s1"})
    assert store.read_edit(key) == record
    assert store.edit_image_path(key).parent.name == "ab"
    # A crash that tore the image (or anyone who changed it) makes the edit count as missing.
    data = store.edit_image_path(key).read_bytes()
    store.edit_image_path(key).write_bytes(data[: len(data) // 2])
    assert store.read_edit(key) is None


def test_judgement_roundtrip_and_corrupt_record_is_missing(tmp_path):
    store = Store(tmp_path)
    key = "cd" + "1" * 62
    store.write_judgement(key, {"status": "ok", "score": 7.0})
    assert store.read_judgement(key)["score"] == 7.0
    store.judgement_path(key).write_text('{"status": "ok", "sc')
    assert store.read_judgement(key) is None


def test_writes_leave_no_temporary_files(tmp_path):
    store = Store(tmp_path)
    store.write_edit("ef" + "2" * 62, Image.new("RGB", (4, 4)), {})
    store.write_judgement("ef" + "3" * 62, {"status": "ok", "score": 1.0})
    names = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert not [n for n in names if n.endswith(".tmp")]
    assert json.loads(store.judgement_path("ef" + "3" * 62).read_text())["key"] == "ef" + "3" * 62


# --- format ----------------------------------------------------------------------------------


def test_format_file_is_written_with_the_first_record_only(tmp_path):
    root = tmp_path / "new"
    store = Store(root)
    assert not root.exists()  # opening a store writes nothing
    store.write_judgement("ab" + "0" * 62, {"status": "ok", "score": 1.0})
    assert json.loads((root / FORMAT_FILE).read_text()) == {"format": FORMAT}
    assert Store(root).read_judgement("ab" + "0" * 62)["score"] == 1.0


def write_format1_edit(root):
    """An edit as the earlier editbench stored it: its editor named by module path."""
    editor = {"class": "editbench.editors.diffusers_editor.DiffusersEditor", "model": "org/m"}
    key = content_hash({"editor": editor, "sample_id": "s1"})
    folder = root / "edits" / key[:2]
    folder.mkdir(parents=True)
    (folder / f"{key}.json").write_text(json.dumps({"key": key, "editor": editor}))
    return key


def test_a_format1_store_is_refused_with_what_to_do(tmp_path):
    write_format1_edit(tmp_path)
    with pytest.raises(EditbenchError) as raised:
        Store(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"store {tmp_path} was written by an earlier editbench (format 1")
    assert "store.root=" in message
    assert f"python -m editbench.store migrate --root {tmp_path}" in message
    assert not (tmp_path / FORMAT_FILE).exists()


def test_an_empty_judgements_folder_of_the_earlier_editbench_is_refused_too(tmp_path):
    (tmp_path / "judgements").mkdir()
    with pytest.raises(EditbenchError, match="earlier editbench"):
        Store(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": 2', "is not JSON"),
        ("[2]", "holds '[2]'; expected {\"format\": 2}"),
        ('{"format": "2"}', 'holds \'{"format": "2"}\''),
        ('{"format": true}', "holds '{\"format\": true}'"),
        ('{"version": 2}', "holds '{\"version\": 2}'"),
        ('{"format": 3}', "has format 3"),
        ('{"format": 1}', "has format 1"),
        (b"\xff\xfe", "cannot be read"),
    ],
)
def test_a_damaged_or_foreign_format_file_is_named(tmp_path, content, message):
    path = tmp_path / FORMAT_FILE
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(EditbenchError, match=re.escape(message)) as raised:
        Store(tmp_path)
    assert str(path) in str(raised.value)


def test_a_format_file_that_is_a_folder_is_named(tmp_path):
    (tmp_path / FORMAT_FILE).mkdir()
    with pytest.raises(EditbenchError, match=f"store format file {tmp_path / FORMAT_FILE} cannot"):
        Store(tmp_path)


def test_a_run_on_a_format1_store_stops_before_any_work(compose_config, tmp_path, monkeypatch):
    write_format1_edit(tmp_path / "store")
    before = sorted(p for p in (tmp_path / "store").rglob("*"))

    def no_work(*args, **kwargs):
        raise AssertionError("the run started its workers")

    monkeypatch.setattr("editbench.config.validate.make_plan", no_work)
    monkeypatch.setattr("editbench.run.execute", no_work)
    with pytest.raises(EditbenchError, match="earlier editbench \\(format 1"):
        run(compose_config("experiment=demo", "tracking=none"), tmp_path / "run")
    assert sorted(p for p in (tmp_path / "store").rglob("*")) == before


@pytest.mark.slow
def test_the_cli_on_a_format1_store_exits_2_with_the_message(tmp_path):
    write_format1_edit(tmp_path / "store")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            f"hydra.run.dir={tmp_path / 'run'}",
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    expected = f"editbench: error: store {tmp_path / 'store'} was written by an earlier"
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
