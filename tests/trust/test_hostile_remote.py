"""A remote is untrusted input: crafted run folders are refused on pull, and every read that
writes files checks the paths it writes, whoever stored them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ledger.api import Ledger
from ledger.names import new_run_id
from tests.conftest import git, make_repo, run_ledger
from tests.trust.crafting import FILE, GITLINK, LINK, craft


def run_json(lg: Ledger, rid: str) -> bytes:
    return lg.store.load(lg.store.root(lg.store.head()), rid).record.to_json()  # type: ignore


def test_pull_refuses_crafted_runs(tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "remote")
    here = make_repo(tmp_path / "here")
    keeper = Ledger(here).log_run("mine", "keeper", params={"a": "1"})
    good = Ledger(remote).log_run("theirs", "good", params={"b": "2"},
                                  artifacts=[(str(remote / "train.py"), "model/train.py")])
    template = json.loads(run_json(Ledger(remote), good))
    ids = {k: new_run_id() for k in ("json", "escape", "link", "sub", "spoof", "huge",
                                     "schema", "fan")}

    def doc(rid: str, **changes: object) -> bytes:
        return json.dumps({**template, "id": rid, **changes}).encode()

    craft(remote, {
        ids["json"]: {"run.json": (FILE, b"{not json")},
        ids["escape"]: {"run.json": (FILE, doc(ids["escape"], artifacts=[
            {"path": "model/../../X/x", "size": 3}])),
            "artifacts/model/../../X/x": (FILE, b"pwn")},
        ids["link"]: {"run.json": (FILE, doc(ids["link"], artifacts=[
            {"path": "model/link", "size": 11}])),
            "artifacts/model/link": (LINK, b"/etc/passwd")},
        ids["sub"]: {"run.json": (FILE, doc(ids["sub"])), "artifacts/sub": (GITLINK, b"")},
        ids["spoof"]: {"run.json": (FILE, doc(keeper, name="spoofed"))},
        ids["huge"]: {"run.json": (FILE, doc(ids["huge"], artifacts=[
            {"path": "big", "size": 300_000}])), "artifacts/big": (FILE, b"x" * 300_000)},
        ids["schema"]: {"run.json": (FILE, doc(ids["schema"], params={"lr": 5}))},
        f"zz/{ids['fan']}": {"run.json": (FILE, doc(ids["fan"]))},
    })
    res = run_ledger("pull", str(remote), cwd=here, env={"LEDGER_MAX_PULL_BYTES": "200000"})
    assert res.code == 0, res.err
    for name, rid in ids.items():
        assert rid in res.err, (name, res.err)
    assert good not in res.err, res.err
    listed = run_ledger("runs", "--format", "json", cwd=here)
    assert listed.code == 0 and listed.err == "", listed.err
    rows = {r["id"]: r for r in json.loads(listed.out)}
    assert set(rows) == {keeper, good}
    assert rows[keeper]["name"] == "keeper"
    for args in (("runs", "--format", "csv"), ("reindex",), ("show", keeper),
                 ("experiments",)):
        res = run_ledger(*args, cwd=here)
        assert res.code == 0 and "damaged" not in res.err, (args, res.err)
    assert git(here, "fsck", "--no-dangling", check=False).returncode == 0
    # the merge is stable: pulling again changes nothing
    again = run_ledger("pull", str(remote), cwd=here)
    assert again.code == 0 and "up to date" in again.out, again.out


def test_reads_check_paths_whoever_stored_them(tmp_path: Path) -> None:
    """Folders that reached the ref without a pull (plain `git fetch`): readers skip or
    refuse them, and nothing is ever written outside the output folder."""
    repo = make_repo(tmp_path / "repo")
    lg = Ledger(repo)
    keeper = lg.log_run("mine", "keeper", params={"a": "1"})
    template = json.loads(run_json(lg, keeper))
    bad_json, escape, link = new_run_id(), new_run_id(), new_run_id()
    craft(repo, {
        bad_json: {"run.json": (FILE, b"\xff\xfe not json")},
        escape: {"run.json": (FILE, json.dumps({**template, "id": escape, "artifacts": [
            {"path": "model/../../X/x", "size": 3}]}).encode()),
            "artifacts/model/../../X/x": (FILE, b"pwn")},
        link: {"run.json": (FILE, json.dumps({**template, "id": link, "artifacts": [
            {"path": "model/link", "size": 11}]}).encode()),
            "artifacts/model/link": (LINK, b"/etc/passwd")},
    })
    for args in (("runs",), ("runs", "--format", "json"), ("reindex",), ("experiments",)):
        res = run_ledger(*args, cwd=repo)
        assert res.code == 0, (args, res.err)
        assert bad_json in res.err and res.err.count("\n") == 1, res.err
    assert run_ledger("show", keeper, cwd=repo).code == 0
    shown = run_ledger("show", bad_json, cwd=repo)
    assert shown.code == 1 and shown.err.startswith("error:") and bad_json in shown.err
    out = tmp_path / "work" / "out"
    out.parent.mkdir()
    for rid in (escape, link):
        res = run_ledger("get", rid, "model", "-o", str(out), cwd=repo)
        assert res.code == 1 and res.err.startswith("error:"), res.err
        res = run_ledger("get", rid, "model/link" if rid == link else "model", cwd=repo)
        assert res.code == 1, res.err
    assert not (tmp_path / "work" / "X").exists() and not (tmp_path / "X").exists()
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))
    with_abs = run_ledger("get", keeper, "/etc/passwd", "-o", str(out), cwd=repo)
    assert with_abs.code == 1 and with_abs.err.startswith("error:")


def test_model_get_refuses_crafted_packages(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    blob_sha = git(repo, "hash-object", "-w", "--stdin", input="pwn").stdout.strip()
    for name, entry in (("dots", f"100644 blob {blob_sha}\t.."),
                        ("link", f"120000 blob {blob_sha}\tmodel.pkl"),
                        ("ctrl", f"100644 blob {blob_sha}\tev\x01il")):
        tree = git(repo, "mktree", input=entry + "\n").stdout.strip()
        commit = git(repo, "commit-tree", tree, "-m", "evil").stdout.strip()
        git(repo, "tag", "-a", f"{name}@v0.0.1", commit, "-m", "evil")
        out = tmp_path / f"out-{name}"
        res = run_ledger("model", "get", f"{name}@v0.0.1", "-o", str(out), cwd=repo)
        assert res.code == 1 and res.err.startswith("error:"), res.err
        assert not out.exists()
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))
    assert os.listdir(tmp_path) == ["repo"]
