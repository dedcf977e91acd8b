"""``python -m editbench.store list|verify|prune`` on a small store made by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from editbench.errors import EditbenchError
from editbench.store import Store, content_hash
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

EDITOR_A = {
    "class": "editbench.editors.diffusers_editor.DiffusersEditor",
    "model": "org/edit-a",
    "pipeline": "QwenImageEditPipeline",
    "num_inference_steps": 2,
}
EDITOR_B = {"class": "editbench.editors.precomputed.PrecomputedEditor", "root": "/data/edits-b"}
JUDGE_GENERATE = {"class": "editbench.judges.qwen3_vl.Qwen3VLJudge", "model": "org/judge"}
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
    assert editors[EDITOR_A_ID].class_name == "DiffusersEditor/QwenImageEditPipeline"
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
    assert "org/edit-a" in row_a and "DiffusersEditor/QwenImageEditPipeline" in row_a
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
        FingerprintGroup("abcdef01" + "0" * 56, {"class": "x.One", "model": "m1"}),
        FingerprintGroup("abcdef02" + "0" * 56, {"class": "x.Two", "model": "m2"}),
    ]
    assert resolve(groups, "abcdef02", "editor") is groups[1]
    with pytest.raises(
        EditbenchError,
        match=r"'abcdef' matches 2 fingerprints: abcdef010000 \(m1, One\); abcdef020000 \(m2, ",
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
