import json

from PIL import Image

from editbench.store import Store, content_hash


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
