"""`ledger lineage` (run, version or stage; text and JSON) and runs in `git log` through
git notes on refs/notes/ledger, merged on pull, beside the user's own notes."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.api import Ledger
from ledger.runs import notes
from tests.conftest import git, run_ledger
from tests.projects.project_support import exec_run, training_repo


def test_lineage_from_commit_and_inputs_to_stages(repo: Path) -> None:
    training_repo(repo)
    (repo / "model.txt").write_text("weights")
    rid = exec_run(repo)
    Ledger(repo).log_to(rid, artifacts=[(str(repo / "model.txt"), None)])
    assert run_ledger("model", "register", "net", "--run", rid, cwd=repo).code == 0
    assert run_ledger("model", "register", "net", "--run", rid, cwd=repo).code == 0
    promoted = run_ledger("model", "promote", "net", "v0.0.2", "production", cwd=repo)
    assert promoted.code == 0, promoted.err
    head = git(repo, "rev-parse", "HEAD").stdout.strip()

    for ref in ("net#production", "net@v0.0.1", rid[:6]):
        res = run_ledger("lineage", ref, "--format", "json", cwd=repo)
        assert res.code == 0, res.err
        found = json.loads(res.out)
        assert found["source"]["commit"] == head
        assert [i["path"] for i in found["inputs"]] == ["data.csv"]
        assert found["inputs"][0]["digest"].startswith("sha256:")
        assert found["run"]["id"] == rid and found["run"]["metrics"]["rows"] == 3.0
        assert [(m["model"], m["version"], m["stages"]) for m in found["models"]] == [
            ("net", "v0.0.1", []), ("net", "v0.0.2", ["production"])]
    text = run_ledger("lineage", "net#production", "--format", "table", cwd=repo)
    lines = text.out.splitlines()
    assert lines[0].startswith(f"commit  {head}") and lines[1].startswith("input   data.csv")
    assert lines[2].startswith(f"run     {rid}")
    assert lines[-1] == "model   net@v0.0.2  -> production"
    bad = run_ledger("lineage", "net#staging", cwd=repo)
    assert bad.code == 1 and bad.err.startswith("error:")


def test_runs_appear_in_git_log_and_the_users_notes_stay(repo: Path, tmp_path: Path) -> None:
    git(repo, "notes", "add", "-m", "my own note", "HEAD")
    mine = git(repo, "rev-parse", "refs/notes/commits").stdout
    first = run_ledger("log", "-m", "a=1", cwd=repo).out.strip()
    second = run_ledger("log", "-m", "a=2", cwd=repo).out.strip()
    shown = git(repo, "log", "--notes=ledger", "-1", "--format=%N").stdout
    assert f"run {first} " in shown and f"run {second} " in shown
    assert git(repo, "log", "-1", "--format=%N").stdout.strip() == "my own note"
    assert git(repo, "rev-parse", "refs/notes/commits").stdout == mine
    assert git(repo, "fsck", "--no-progress").returncode == 0

    # another clone logs on the same commit; a pull merges its runs and their notes
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "HEAD:main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    theirs = run_ledger("log", "-m", "a=3", cwd=other).out.strip()
    assert run_ledger("push", cwd=other).code == 0
    assert run_ledger("pull", cwd=repo).code == 0
    shown = git(repo, "log", "--notes=ledger", "-1", "--format=%N").stdout
    assert all(f"run {r} " in shown for r in (first, second, theirs))
    assert git(repo, "log", "-1", "--format=%N").stdout.strip() == "my own note"


def test_a_note_lists_its_first_runs_then_how_to_list_them_all(repo: Path) -> None:
    lg = Ledger(repo)
    ids = [lg.log_run(metrics=[("a", float(i), 0)]) for i in range(notes.NOTE_RUNS + 5)]
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    lines = git(repo, "log", "--notes=ledger", "-1", "--format=%N").stdout.strip().splitlines()
    assert lines[:-1] == sorted(lines[:-1]) and len(lines) == notes.NOTE_RUNS + 1
    assert lines[-1] == notes.more_line(head)
    notes_head = git(repo, "rev-parse", notes.NOTES_REF.decode()).stdout
    lg.log_run(metrics=[("a", 0.0, 0)])  # a full note is left alone: no notes commit at all
    assert git(repo, "rev-parse", notes.NOTES_REF.decode()).stdout == notes_head
    where = lines[-1].split("--where ")[1].strip('"')
    listed = run_ledger("runs", "--where", where, "--format", "json", cwd=repo).out
    assert {r["id"] for r in json.loads(listed)} >= set(ids)


def test_a_full_note_git_wrote_flat_is_kept(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    text = "\n".join([f"run {i:032x} x (e)" for i in range(3)] + [notes.more_line(head)])
    git(repo, "notes", "--ref=ledger", "add", "-m", text, head)  # flat: <sha> at the root
    Ledger(repo).log_run(metrics=[("a", 1.0, 0)])
    shown = git(repo, "log", "--notes=ledger", "-1", "--format=%N").stdout.strip()
    assert shown == text
