"""``python -m editbench.store list|verify|prune|migrate`` on small stores made by hand, and
migrate on a store of a real run."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from editbench.errors import EditbenchError
from editbench.run import run
from editbench.store import FORMAT_FILE, Store, content_hash, edit_key
from editbench.store.admin import (
    FingerprintGroup,
    format_bytes,
    open_store,
    plan_prune,
    remove,
    resolve,
    summarize,
    verify,
)
from editbench.store.migrate import apply, plan_migration

EDITOR_A = {
    "name": "diffusers",
    "version": 1,
    "model": "org/edit-a",
    "pipeline": "QwenImageEditPipeline",
    "num_inference_steps": 2,
}
EDITOR_B = {"name": "precomputed", "version": 1, "root": "/data/edits-b"}
JUDGE_GENERATE = {"name": "qwen3_vl", "version": 1, "model": "org/judge"}
JUDGE_EXPECTED = {**JUDGE_GENERATE, "score_mode": "expected"}
EDITOR_A_ID, EDITOR_B_ID = content_hash(EDITOR_A), content_hash(EDITOR_B)
JUDGE_GENERATE_ID, JUDGE_EXPECTED_ID = content_hash(JUDGE_GENERATE), content_hash(JUDGE_EXPECTED)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Editor A: 3 edits, editor B: 2. The generating judge judged all 5 (one parse error), the
    expected-score judge only A's 3. Kept where the CLI looks by default: outputs/store."""
    store = Store(tmp_path / "outputs" / "store")
    for editor, sample_ids, judges in (
        (EDITOR_A, ["s1", "s2", "s3"], [JUDGE_GENERATE, JUDGE_EXPECTED]),
        (EDITOR_B, ["s1", "s2"], [JUDGE_GENERATE]),
    ):
        for sample_id in sample_ids:
            edit_key = add_edit(store, editor, sample_id)
            for judge in judges:
                parse_error = editor is EDITOR_B and sample_id == "s2"
                add_judgement(store, edit_key, judge, None if parse_error else 7.0)
    return store


def add_edit(store: Store, editor: dict, sample_id: str) -> str:
    key = content_hash({"editor": editor, "sample_id": sample_id})
    image = Image.new("RGB", (16, 16), tuple(bytes.fromhex(key[:6])))  # pixels differ per edit
    store.write_edit(key, image, {"sample_id": sample_id, "editor": editor})
    return key


def add_judgement(store: Store, edit_key: str, judge: dict, score: float | None) -> None:
    store.write_judgement(
        content_hash({"edit_key": edit_key, "judge": judge}),
        {
            "edit_key": edit_key,
            "judge": judge,
            "status": "parse_error" if score is None else "ok",
            "score": score,
            "reply": "Score: 7" if score is not None else "no idea",
        },
    )


def files_of(store: Store) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in store.root.rglob("*") if path.is_file()}


def edit_files(store: Store, editor: dict) -> set[Path]:
    """The record and image of every edit of ``editor``."""
    records = [
        path
        for path in store.root.glob("edits/*/*.json")
        if json.loads(path.read_text())["editor"] == editor
    ]
    return {*records, *(path.with_suffix(".png") for path in records)}


def store_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "editbench.store", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- list ------------------------------------------------------------------------------------


def test_summary_counts_edits_per_editor_and_judgements_per_judge_by_status(store: Store):
    summary = summarize(store)
    editors = {group.id: group for group in summary.editors}
    assert {group_id: len(g.entries) for group_id, g in editors.items()} == {
        EDITOR_A_ID: 3,
        EDITOR_B_ID: 2,
    }
    assert editors[EDITOR_A_ID].bytes == sum(
        path.stat().st_size for path in edit_files(store, EDITOR_A)
    )
    assert editors[EDITOR_A_ID].label == "diffusers v1/QwenImageEditPipeline"
    assert editors[EDITOR_B_ID].label == "precomputed v1"
    assert editors[EDITOR_B_ID].model == "/data/edits-b"  # a precomputed editor's folder

    judges = {group.id: group for group in summary.judges}
    assert judges[JUDGE_GENERATE_ID].statuses == {"ok": 4, "parse_error": 1}
    assert judges[JUDGE_EXPECTED_ID].statuses == {"ok": 3}
    assert summary.unreadable_edits == summary.unreadable_judgements == 0


def test_list_cli_prints_a_table_and_the_same_as_json(store: Store, tmp_path: Path):
    result = store_cli("list", cwd=tmp_path)  # default root: ./outputs/store
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    row_a = next(line for line in lines if line.startswith(EDITOR_A_ID[:12]))
    assert "org/edit-a" in row_a and "diffusers v1/QwenImageEditPipeline" in row_a
    assert lines[lines.index("editors") + 1].split()[:3] == ["id", "model", "name"]
    assert row_a.split()[-3] == "3"  # edits, then size in two words
    row_generate = next(line for line in lines if line.startswith(JUDGE_GENERATE_ID[:12]))
    assert row_generate.endswith("ok 4, parse_error 1")

    result = store_cli("list", "--root", str(store.root), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing == json.loads(json.dumps(summarize(store).as_json()))
    editors = {editor["short_id"]: editor for editor in listing["editors"]}
    assert editors[EDITOR_B_ID[:12]]["count"] == 2
    assert editors[EDITOR_B_ID[:12]]["fingerprint"] == EDITOR_B
    assert (editors[EDITOR_B_ID[:12]]["name"], editors[EDITOR_B_ID[:12]]["version"]) == (
        "precomputed",
        1,
    )


def test_list_counts_unreadable_records_apart(store: Store):
    next(store.root.glob("judgements/*/*.json")).write_text("[1, 2]")
    summary = summarize(store)
    assert summary.unreadable_judgements == 1
    assert sum(len(group.entries) for group in summary.judges) == 7
    assert "not counted above" in summary.format()


# --- verify ----------------------------------------------------------------------------------


def test_verify_clean_store(store: Store, tmp_path: Path):
    verification = verify(store)
    assert (verification.edits, verification.judgements, verification.problems) == (5, 8, [])
    result = store_cli("verify", "--root", str(store.root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("no problems")


def break_store(store: Store) -> dict[str, Path]:
    """A torn image, a torn judgement, a crash's temporary file; the files each one names."""
    image = sorted(store.root.glob("edits/*/*.png"))[0]
    image.write_bytes(image.read_bytes()[:40])
    judgement = sorted(store.root.glob("judgements/*/*.json"))[0]
    judgement.write_text('{"status": "ok", "sc')
    staging = image.with_name(f".{image.name}.4242.0badf00d.tmp")
    staging.write_bytes(b"half a png")
    return {"edit": image.with_suffix(".json"), "judgement": judgement, "staging": staging}


def test_verify_names_each_problem_and_delete_lets_the_next_run_redo_them(
    store: Store, tmp_path: Path
):
    broken = break_store(store)
    result = store_cli("verify", "--root", str(store.root), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for path, reason in [
        (broken["edit"], "does not match the record's image_sha256"),
        (broken["judgement"], "not a JSON object"),
        (broken["staging"], "temporary file"),
    ]:
        named = f"{path.relative_to(store.root)}: "
        assert any(line.startswith(named) and reason in line for line in lines), result.stdout
    assert lines[-1].endswith("3 problems")

    doomed = {*broken.values(), broken["edit"].with_suffix(".png")}
    untouched = {path: data for path, data in files_of(store).items() if path not in doomed}
    result = store_cli("verify", "--root", str(store.root), "--delete", cwd=tmp_path)
    assert result.returncode == 1  # it found problems, then removed them
    assert "deleted 4 files" in result.stdout
    assert files_of(store) == untouched
    assert store.read_edit(broken["edit"].stem) is None  # the next run redoes it

    result = store_cli("verify", "--root", str(store.root), cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "checked 4 edits and 7 judgements" in result.stdout


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "ok", "score": None}, "status is 'ok' but score is None"),
        ({"status": "refusal", "score": 3.0}, "status is 'refusal' but it has a score"),
        ({"status": "maybe"}, "status 'maybe' is not one of ok, parse_error"),
        ({"key": "0" * 64}, "differs from its file name"),
        ({"judge": None}, "record has no judge fingerprint"),
    ],
)
def test_verify_checks_every_judgement_field(store: Store, change: dict, reason: str):
    path = sorted(store.root.glob("judgements/*/*.json"))[0]
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    [problem] = verify(store).problems
    assert problem.path == path and reason in problem.reason


def test_verify_finds_an_edit_missing_either_file(store: Store):
    records = sorted(store.root.glob("edits/*/*.json"))
    records[0].with_suffix(".png").unlink()
    records[1].unlink()
    problems = {problem.path: problem for problem in verify(store).problems}
    assert problems[records[0]].reason == "image is missing"
    assert problems[records[0]].files == (records[0],)
    assert "image without a record" in problems[records[1].with_suffix(".png")].reason
    assert len(problems) == 2


# --- prune -----------------------------------------------------------------------------------


def test_prune_cli_dry_run_changes_nothing_then_removes_exactly_one_editor(
    store: Store, tmp_path: Path
):
    before = files_of(store)
    doomed = edit_files(store, EDITOR_A)
    result = store_cli(
        "prune", "--root", str(store.root), "--editor", EDITOR_A_ID[:8], "--dry-run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert files_of(store) == before
    assert sum(line.startswith("would remove edits/") for line in result.stdout.splitlines()) == 6
    assert "removed nothing" in result.stdout

    result = store_cli(
        "prune", "--root", str(store.root), "--editor", EDITOR_A_ID[:8], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert set(files_of(store)) == set(before) - doomed
    assert (
        f"freed {format_bytes(sum(len(before[path]) for path in doomed))} in 6 files"
        in result.stdout
    )
    # Their 6 judgements stay; the output says so.
    assert "6 judgement(s) of these edits stay in the store" in result.stdout
    assert [group.id for group in summarize(store).editors] == [EDITOR_B_ID]


def test_prune_judge_removes_only_its_judgements(store: Store):
    pruning = plan_prune(store, "judge", JUDGE_EXPECTED_ID[:6].upper())
    assert len(pruning.group.entries) == 3 and len(pruning.files) == 3
    before = files_of(store)
    assert remove(pruning.files) == sum(len(before[path]) for path in pruning.files)
    assert set(files_of(store)) == set(before) - set(pruning.files)
    assert [group.id for group in summarize(store).judges] == [JUDGE_GENERATE_ID]


def test_id_must_name_exactly_one_fingerprint():
    groups = [
        FingerprintGroup("abcdef01" + "0" * 56, {"name": "one", "version": 1, "model": "m1"}),
        FingerprintGroup("abcdef02" + "0" * 56, {"name": "two", "version": 2, "model": "m2"}),
    ]
    assert resolve(groups, "abcdef02", "editor") is groups[1]
    with pytest.raises(
        EditbenchError,
        match=r"'abcdef' matches 2 fingerprints: abcdef010000 \(m1, one v1\); abcdef020000 \(m2",
    ):
        resolve(groups, "abcdef", "editor")
    with pytest.raises(EditbenchError, match="'abcde' is too short; expected at least 6"):
        resolve(groups, "abcde", "editor")
    with pytest.raises(
        EditbenchError,
        match="no judge fingerprint has an id starting with '123456'; the store has: abcdef01",
    ):
        resolve(groups, "123456", "judge")


def test_cli_errors_are_one_line_naming_the_value(store: Store, tmp_path: Path):
    result = store_cli("prune", "--root", str(store.root), "--editor", "ffffff", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("editbench.store: error: no editor fingerprint")
    assert EDITOR_A_ID[:12] in result.stderr and EDITOR_B_ID[:12] in result.stderr
    assert "Traceback" not in result.stderr

    missing = tmp_path / "no-store"
    result = store_cli("list", "--root", str(missing), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"editbench.store: error: store root {str(missing)!r} does not exist; "
        "expected the folder a run's store.root names"
    ]
    with pytest.raises(EditbenchError, match="holds neither edits/ nor judgements/"):
        open_store(tmp_path)


# --- format and migrate ----------------------------------------------------------------------

FORMAT1_EDITOR = {**EDITOR_A, "class": "editbench.editors.diffusers_editor.DiffusersEditor"}
del FORMAT1_EDITOR["name"], FORMAT1_EDITOR["version"]
FORMAT1_JUDGE = {"class": "editbench.scorers.qwen3_vl.Qwen3VLJudge", "model": "org/judge"}


def write_format1_edit(root: Path, editor: dict, sample_id: str) -> str:
    """An edit as the earlier editbench stored it, its editor named by module path."""
    fields = {
        "sample_id": sample_id,
        "source_sha256": hashlib.sha256(sample_id.encode()).hexdigest(),
        "instruction": f"paint {sample_id} blue",
        "seed": 7,
    }
    key = content_hash({"editor": editor, **fields})
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), tuple(bytes.fromhex(key[:6]))).save(buffer, format="PNG")
    folder = root / "edits" / key[:2]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.png").write_bytes(buffer.getvalue())
    record = {
        **fields,
        "editor": editor,
        "key": key,
        "image_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
    }
    (folder / f"{key}.json").write_text(json.dumps(record))
    return key


def write_format1_judgement(root: Path, edit_key: str, judge: dict) -> Path:
    key = content_hash({"edit_key": edit_key, "judge": judge})
    path = root / "judgements" / key[:2] / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"key": key, "edit_key": edit_key, "judge": judge, "status": "ok", "score": 6.0}
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def format1_root(tmp_path: Path) -> Path:
    """Three edits of one diffusers editor, each judged once, as the earlier editbench left them."""
    root = tmp_path / "old-store"
    for sample_id in ("s1", "s2", "s3"):
        write_format1_judgement(
            root, write_format1_edit(root, FORMAT1_EDITOR, sample_id), FORMAT1_JUDGE
        )
    return root


def new_key(record: dict) -> str:
    """The key this editbench gives a format-1 edit record's edit."""
    settings = {k: v for k, v in record["editor"].items() if k != "class"}
    return edit_key(
        {"name": "diffusers", "version": 1, **settings},
        *(record[field] for field in ("sample_id", "source_sha256", "instruction", "seed")),
    )


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["list", "--json"],
        ["verify"],
        ["verify", "--delete"],
        ["prune", "--judge", "abcdef"],
    ],
)
def test_every_command_refuses_a_format1_store(format1_root: Path, tmp_path: Path, command):
    before = files_of_root(format1_root)
    result = store_cli(command[0], "--root", str(format1_root), *command[1:], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"editbench.store: error: store {format1_root} was written by an earlier editbench "
        "(format 1, which named each editor and judge by its module path): none of its keys "
        "would be reached. Use a new store (store.root=... for a run), or re-key its edits with "
        f"`python -m editbench.store migrate --root {format1_root}` (its judgements are redone)"
    ]
    assert files_of_root(format1_root) == before


def test_commands_name_a_damaged_format_file(store: Store, tmp_path: Path):
    (store.root / FORMAT_FILE).write_text("format 2")
    for command in ("list", "verify", "migrate"):
        result = store_cli(command, "--root", str(store.root), cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith(
            f"editbench.store: error: store format file {store.root / FORMAT_FILE} is not JSON"
        ), result.stderr


def files_of_root(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_migrate_rekeys_every_edit_and_sets_the_judgements_aside(
    format1_root: Path, tmp_path: Path
):
    before = files_of_root(format1_root)
    old_records = [json.loads(p.read_text()) for p in format1_root.glob("edits/*/*.json")]
    dry = store_cli("migrate", "--root", str(format1_root), "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would re-key 3 edits (diffusers 3)" in dry.stdout
    assert "would move 3 judgements to format1-judgements/" in dry.stdout
    assert files_of_root(format1_root) == before

    result = store_cli("migrate", "--root", str(format1_root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "re-keyed 3 edits (diffusers 3)" in result.stdout
    assert "moved 3 judgements to format1-judgements/" in result.stdout
    store = Store(format1_root)  # format 2 now
    for old in old_records:
        record = store.read_edit(new_key(old))
        assert record is not None
        assert record["editor"] == {**EDITOR_A, "name": "diffusers", "version": 1}
        assert (
            store.edit_image_path(new_key(old)).read_bytes()
            == before[format1_root / "edits" / old["key"][:2] / f"{old['key']}.png"]
        )
        # read_edit says what an older record leaves unsaid: an edit with an image is ok
        assert record["status"] == "ok"
        assert {k: v for k, v in record.items() if k not in ("editor", "key", "status")} == {
            k: v for k, v in old.items() if k not in ("editor", "key")
        }
    assert len(list(format1_root.glob("edits/*/*"))) == 6  # the old files are gone
    assert not (format1_root / "judgements").exists()
    assert len(list(format1_root.glob("format1-judgements/*/*.json"))) == 3
    assert verify(store).problems == []
    assert [group.label for group in summarize(store).editors] == [
        "diffusers v1/QwenImageEditPipeline"
    ]

    again = store_cli("migrate", "--root", str(format1_root), cwd=tmp_path)
    assert again.returncode == 2
    assert f"store {format1_root} has format 2 already; nothing to migrate" in again.stderr


def test_migrate_leaves_a_torn_edit_and_says_so(format1_root: Path, tmp_path: Path):
    torn = sorted(format1_root.glob("edits/*/*.png"))[0]
    torn.write_bytes(torn.read_bytes()[:30])
    migration = plan_migration(format1_root)
    assert len(migration.rekeys) == 2
    assert migration.left == [
        (torn.with_suffix(".json"), "image is missing or does not match the record's image_sha256")
    ]
    apply(migration)
    assert torn.with_suffix(".json").is_file()  # verify --delete removes it; a run redoes it
    assert "1 edits cannot be re-keyed: no run reads them" in migration.format(dry_run=False)
    store = Store(format1_root)
    [left] = [group for group in summarize(store).editors if group.label.startswith("?")]
    assert [entry.key for entry in left.entries] == [torn.stem]
    pruning = plan_prune(store, "editor", left.id[:8])
    assert remove(pruning.files) and verify(store).problems == []


def test_migrate_refuses_an_unknown_editor_class_until_it_is_named(
    format1_root: Path, tmp_path: Path
):
    mine = {"class": "mypkg.editors.MyEditor", "model": "org/mine"}
    old_key = write_format1_edit(format1_root, mine, "s9")
    before = files_of_root(format1_root)
    result = store_cli("migrate", "--root", str(format1_root), cwd=tmp_path)
    assert result.returncode == 2
    assert "mypkg.editors.MyEditor (1 edits)" in result.stderr
    assert "--name CLASS=NAME" in result.stderr
    assert files_of_root(format1_root) == before

    bad = store_cli(
        "migrate",
        "--root",
        str(format1_root),
        "--name",
        "mypkg.editors.MyEditor=My.Editor",
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "'My.Editor'" in bad.stderr

    named = store_cli(
        "migrate",
        "--root",
        str(format1_root),
        "--name",
        "mypkg.editors.MyEditor=mine",
        cwd=tmp_path,
    )
    assert named.returncode == 0, named.stderr
    assert "re-keyed 4 edits (diffusers 3, mine 1)" in named.stdout
    record = json.loads(before[format1_root / "edits" / old_key[:2] / f"{old_key}.json"])
    fields = [record[field] for field in ("sample_id", "source_sha256", "instruction", "seed")]
    key = edit_key({"name": "mine", "version": 1, "model": "org/mine"}, *fields)
    assert Store(format1_root).read_edit(key) is not None


def test_an_interrupted_migrate_is_refused_by_runs_and_finished_by_migrate(
    format1_root: Path, monkeypatch: pytest.MonkeyPatch
):
    old_records = [json.loads(p.read_text()) for p in format1_root.glob("edits/*/*.json")]
    calls = []

    def crash(path: Path, record: dict) -> None:
        calls.append(path)
        raise KeyboardInterrupt  # after the first edit's image moved, before its record

    monkeypatch.setattr("editbench.store.migrate.atomic_write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        apply(plan_migration(format1_root))
    assert len(calls) == 1 and calls[0].with_suffix(".png").is_file()
    with pytest.raises(EditbenchError, match="earlier editbench"):
        Store(format1_root)

    monkeypatch.undo()
    migration = plan_migration(format1_root)
    assert (len(migration.rekeys), migration.done, migration.left) == (3, 0, [])
    apply(migration)
    store = Store(format1_root)
    assert all(store.read_edit(new_key(old)) is not None for old in old_records)
    assert len(list(format1_root.glob("edits/*/*"))) == 6
    assert len(list(format1_root.glob("format1-judgements/*/*.json"))) == 3


def to_format1(root: Path) -> None:
    """Turn a store of a real run into the one the earlier editbench would have left: each
    fingerprint named by module path, each edit under the key that gave."""
    (root / FORMAT_FILE).unlink()
    for record_path in list(root.glob("edits/*/*.json")):
        record = json.loads(record_path.read_text())
        settings = {k: v for k, v in record["editor"].items() if k not in ("name", "version")}
        editor = {"class": "editbench.editors.diffusers_editor.DiffusersEditor", **settings}
        fields = [record[field] for field in ("sample_id", "source_sha256", "instruction", "seed")]
        key = edit_key(editor, *fields)
        target = root / "edits" / key[:2] / f"{key}.json"
        target.parent.mkdir(exist_ok=True)
        record_path.with_suffix(".png").rename(target.with_suffix(".png"))
        target.write_text(json.dumps({**record, "editor": editor, "key": key}))
        record_path.unlink()
    for record_path in root.glob("judgements/*/*.json"):
        record = json.loads(record_path.read_text())
        settings = {k: v for k, v in record["judge"].items() if k not in ("name", "version")}
        judge = {"class": "editbench.scorers.qwen3_vl.Qwen3VLJudge", **settings}
        record_path.write_text(json.dumps({**record, "judge": judge}))


def test_a_migrated_store_of_a_real_run_gives_the_rerun_every_edit(compose_config, tmp_path):
    cfg = compose_config("experiment=demo", "tracking=none", "dataset.limit=2")
    first = run(cfg, tmp_path / "first")
    assert first["work"]["edits_done"] == 2
    to_format1(tmp_path / "store")
    with pytest.raises(EditbenchError, match="earlier editbench"):
        run(cfg, tmp_path / "refused")

    result = store_cli("migrate", "--root", str(tmp_path / "store"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    second = run(cfg, tmp_path / "second")
    assert second["work"] == {
        "edits_done": 0,
        "edits_reused": 2,
        "judgements_done": 2,
        "judgements_reused": 0,
    }
    # The same edits, judged again: the same scores, up to the rounding of another batch.
    rows = {
        name: [json.loads(line) for line in (tmp_path / name / "samples.jsonl").open()]
        for name in ("first", "second")
    }
    assert [row["edit_key"] for row in rows["second"]] == [row["edit_key"] for row in rows["first"]]
    assert [row["score"] for row in rows["second"]] == pytest.approx(
        [row["score"] for row in rows["first"]], abs=1e-5
    )
