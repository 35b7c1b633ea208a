"""P5: plain git sees valid objects and readable history; the user's state is never touched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import git, make_repo, run_ledger, user_state


def _all_commands(cli, repo: Path, tmp_path: Path) -> list[list[str]]:
    (tmp_path / "art.txt").write_text("artifact\n")
    rid = cli("start", "-e", "native").out.strip()
    return [
        ["init"],
        ["log", "-p", "lr=0.1", "-m", "acc=0.9", "-t", "t=1", "-a", str(tmp_path / "art.txt")],
        ["log", "--run", rid, "-m", "loss=0.5", "--step", "3"],
        ["tag", rid, "k=v"],
        ["untag", rid, "k"],
        ["show", rid],
        ["runs"],
        ["metrics", rid],
        ["artifacts", rid],
        ["experiments"],
        ["delete", rid],
        ["restore", rid],
        ["end", rid],
        ["exec", "--", sys.executable, "-c", "print(1)"],
        ["recover"],
        ["log", "-p", "x=1", "-p", "bad key!=2"],  # an error, too, must leave things alone
    ]


def test_user_state_untouched_with_dirty_tree_and_staged_changes(repo: Path, tmp_path: Path):
    (repo / "train.py").write_text("print('edited, unstaged')\n")
    (repo / "staged.py").write_text("x = 1\n")
    git(repo, "add", "staged.py")
    (repo / "untracked.txt").write_text("u\n")
    git(repo, "branch", "feature")

    def cli(*args: str):
        return run_ledger(*args, cwd=repo)

    commands = _all_commands(cli, repo, tmp_path)
    for args in commands:
        before = user_state(repo)
        cli(*args)
        assert user_state(repo) == before, args
    fsck = git(repo, "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0 and "error" not in fsck.stderr.lower(), fsck.stderr
    log = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.splitlines()
    assert log and all(line.startswith(("run ", "ledger ")) for line in log), log


def test_works_in_a_repository_with_no_commits(empty_repo: Path) -> None:
    (empty_repo / "a.py").write_text("a\n")
    git(empty_repo, "add", "a.py")
    before = user_state(empty_repo)
    result = run_ledger("log", "-p", "a=1", "-m", "m=2", cwd=empty_repo)
    assert result.code == 0, result.err
    assert user_state(empty_repo) == before
    run = json.loads(run_ledger("show", result.out.strip(), "--format", "json",
                                cwd=empty_repo).out)
    assert run["source"]["commit"] is None and run["source"]["dirty"] is True
    assert git(empty_repo, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0
    assert git(empty_repo, "fsck", "--strict").returncode == 0


def test_subfolder_worktree_and_bare(repo: Path, tmp_path: Path) -> None:
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    rid = run_ledger("log", "-m", "a=1", cwd=sub).out.strip()
    assert len(rid) == 32
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "wt-branch")
    rid2 = run_ledger("log", "-m", "a=2", cwd=wt).out.strip()
    ids = {r["id"] for r in json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)}
    assert ids == {rid, rid2}  # worktrees share one ledger
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "push", "-q", str(bare), "refs/ledger/runs:refs/ledger/runs")
    listed = json.loads(run_ledger("runs", "--format", "json", "--repo", str(bare),
                                   cwd=tmp_path).out)
    assert {r["id"] for r in listed} == ids


def test_plain_git_push_and_gc_keep_everything(repo: Path, tmp_path: Path) -> None:
    rids = [run_ledger("log", "-m", f"a={i}", cwd=repo).out.strip() for i in range(3)]
    git(repo, "gc", "-q", "--prune=now")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "push", "-q", str(remote), "refs/ledger/*:refs/ledger/*")
    clone = make_repo(tmp_path / "clone", commit=False)
    git(clone, "fetch", "-q", str(remote), "refs/ledger/*:refs/ledger/*")
    listed = json.loads(run_ledger("runs", "--format", "json", cwd=clone).out)
    assert sorted(r["id"] for r in listed) == sorted(rids)
    assert git(clone, "fsck", "--strict").returncode == 0
