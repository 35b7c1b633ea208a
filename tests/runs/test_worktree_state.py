"""The remembered source state (runs/worktree.py): reused only while git would answer the
same, never for a state that changed, whichever way it changed."""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path

import pytest

from ledger import Ledger
from ledger.runs import capture, worktree
from ledger.store import gitdir as gitdirs
from tests.conftest import git, run_ledger

HOUR_NS = 3600 * 10**9


def age(repo: Path) -> None:
    """Make every file look written an hour ago, as in a repository not just created."""
    old = time.time_ns() - HOUR_NS
    for path in [*repo.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            os.utime(path, ns=(old, old))
    time.sleep(0.05)  # past the clock tick of the change times that os.utime set


@pytest.fixture
def gd(repo: Path):
    worktree.forget()
    age(repo)
    yield gitdirs.find(repo)
    worktree.forget()


def test_a_clean_state_is_remembered_and_reused(gd) -> None:
    first = capture.source(gd, [])
    assert worktree.recall(gd) == ({k: first[0][k] for k in ("commit", "branch", "dirty")}, None)
    worktree.forget()  # a new process reads it from .git/ledger/cache
    assert worktree.recall(gd) is not None


def test_an_edit_of_the_same_size_and_mtime_is_seen(gd, repo: Path) -> None:
    capture.source(gd, [])
    path = repo / "train.py"
    before = path.stat()
    path.write_text(path.read_text().replace("print", "PRINT"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back
    assert worktree.recall(gd) is None  # the change time moved
    info, patch = capture.source(gd, [])
    assert info["dirty"] and patch and b"PRINT" in patch


def test_a_commit_a_checkout_and_a_new_branch_are_seen(gd, repo: Path) -> None:
    lg = Ledger(repo)

    def source() -> dict:
        run = lg.open_run()
        run.end()
        return lg.get_run(run.id).source

    source()
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2")
    age(repo)
    second = source()
    assert second["commit"] == git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "checkout", "-qb", "other")
    assert source()["branch"] == "other"
    git(repo, "checkout", "-q", "--detach")
    assert source()["branch"] is None
    git(repo, "update-ref", "refs/heads/main", "HEAD~1")
    git(repo, "checkout", "-q", "main")
    assert source()["commit"] != second["commit"]


def test_a_dirty_state_keeps_its_patch_until_the_next_edit(gd, repo: Path) -> None:
    (repo / "train.py").write_text("print('one')\n")
    age(repo)
    info, patch = capture.source(gd, [])
    assert info["dirty"] and b"one" in patch
    state = {k: info[k] for k in ("commit", "branch", "dirty")}
    assert worktree.recall(gd) == (state, patch)
    (repo / "train.py").write_text("print('two')\n")
    info, patch = capture.source(gd, [])
    assert b"two" in patch and b"one" not in patch
    git(repo, "add", "train.py")  # staged: the index moved
    assert worktree.recall(gd) is None


def test_a_file_stamped_in_the_capture_s_clock_tick_is_not_kept(gd, repo: Path) -> None:
    future = time.time_ns() + HOUR_NS  # at or after the file system's "now"
    os.utime(repo / "train.py", ns=(future, future))
    capture.source(gd, [])
    assert worktree.recall(gd) is None


def test_a_deleted_tracked_file_is_seen(gd, repo: Path) -> None:
    capture.source(gd, [])
    (repo / "train.py").unlink()
    info, patch = capture.source(gd, [])
    assert info["dirty"] and b"deleted file" in patch


def test_git_configuration_is_part_of_the_state(gd, repo: Path) -> None:
    capture.source(gd, [])
    git(repo, "config", "core.fileMode", "false")
    assert worktree.recall(gd) is None


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_the_index_is_read_as_git_reads_it(repo: Path, version: str) -> None:
    for i, name in enumerate(["a/b/c.txt", "a/b/d.txt", "a/long-name-" + "x" * 90, "z.py",
                              "ünïcode.txt", "a/bb"]):
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(i))
    git(repo, "add", ".")
    git(repo, "update-index", "--index-version", version)
    if version == "3":
        git(repo, "update-index", "--skip-worktree", "z.py")  # an extended flag
    listed = git(repo, "ls-files", "-z", text=False).stdout.split(b"\0")[:-1]
    assert worktree._tracked(repo / ".git" / "index") == [os.fsdecode(p) for p in listed]


def test_submodules_and_split_indexes_are_never_kept(repo: Path, tmp_path: Path) -> None:
    git(repo, "update-index", "--split-index")
    assert worktree._tracked(repo / ".git" / "index") is None
    git(repo, "update-index", "--no-split-index")
    assert worktree._tracked(repo / ".git" / "index") is not None
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{sha},sub")
    assert worktree._tracked(repo / ".git" / "index") is None


def test_ledger_log_in_a_loop_records_each_state(repo: Path) -> None:
    age(repo)
    ids = []
    for text in ("print('a')\n", "print('b')\n", "print('b')\n"):
        (repo / "train.py").write_text(text)
        res = run_ledger("log", "-m", "m=1", cwd=repo)
        assert res.code == 0, res.err
        ids.append(res.out.strip())
    lg = Ledger(repo)
    assert all(lg.get_run(rid).source["dirty"] for rid in ids)
    patches = [lg.read_run_file(rid, "source.patch") for rid in ids]
    assert b"+print('a')" in patches[0]
    assert b"+print('b')" in patches[1] and patches[2] == patches[1]
    (repo / "train.py").write_text(git(repo, "show", "HEAD:train.py").stdout)
    res = run_ledger("log", "-m", "m=1", cwd=repo)
    assert not lg.get_run(res.out.strip()).source["dirty"]


# -- the clean state read from git's index, without git -------------------------------------
def settled(repo: Path):
    """The index written after the files it records (as after any later git command)."""
    time.sleep(0.02)
    os.utime(repo / ".git" / "index")
    return gitdirs.find(repo)


def from_index(gd) -> dict | None:
    return worktree.clean_from_index(gd, partial(capture._commit_tree, gd))


def git_state(repo: Path) -> dict:
    worktree.forget()
    out = git(repo, "status", "--porcelain=v2", "--branch").stdout.splitlines()
    head = dict(line[2:].split(" ", 1) for line in out if line.startswith("# "))
    return {"commit": head["branch.oid"], "branch": None if head["branch.head"] == "(detached)"
            else head["branch.head"], "dirty": any(not line.startswith("#") for line in out)}


def test_a_clean_tree_is_read_from_the_index_as_git_reads_it(repo: Path) -> None:
    (repo / "a" / "b").mkdir(parents=True)
    (repo / "a" / "b" / "c.txt").write_text("c\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("run.sh")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "more")
    gd = settled(repo)
    assert from_index(gd) == git_state(repo)
    git(repo, "pack-refs", "--all")  # the branch only in packed-refs
    assert from_index(gd) == git_state(repo)
    git(repo, "checkout", "-q", "--detach")
    assert from_index(settled(repo)) == git_state(repo)


@pytest.mark.parametrize("change", ["edit", "same-size-same-mtime", "chmod", "delete",
                                    "stage", "move-head", "racy", "skip-worktree"])
def test_anything_else_is_left_to_git(repo: Path, change: str) -> None:
    path = repo / "train.py"
    gd = settled(repo)
    assert from_index(gd) is not None
    before = path.stat()
    if change == "edit":
        path.write_text("print('edited')\n")
    elif change == "same-size-same-mtime":
        path.write_text(path.read_text().upper())
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    elif change == "chmod":
        path.chmod(0o755)
    elif change == "delete":
        path.unlink()
    elif change == "stage":
        path.write_text("print('staged')\n")
        git(repo, "add", "train.py")
        gd = settled(repo)
    elif change == "move-head":
        (repo / "other.txt").write_text("x\n")
        git(repo, "add", "other.txt")
        git(repo, "commit", "-qm", "other")
        git(repo, "update-ref", "refs/heads/main", "HEAD~1")  # the index stays ahead
        gd = settled(repo)
    elif change == "racy":
        future = time.time_ns() + HOUR_NS
        os.utime(path, ns=(future, future))
        git(repo, "update-index", "--refresh")  # records the future time
    elif change == "skip-worktree":
        git(repo, "update-index", "--skip-worktree", "train.py")
        gd = settled(repo)
    assert from_index(gd) is None
    info, _patch = capture.source(gd, [])
    assert {k: info[k] for k in ("commit", "branch", "dirty")} == git_state(repo)


def test_a_folder_swapped_for_a_symlink_is_seen(repo: Path) -> None:
    (repo / "d").mkdir()
    (repo / "d" / "f.txt").write_text("f\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "d")
    gd = settled(repo)
    assert capture.source(gd, [])[0]["dirty"] is False
    age(repo)
    capture.source(gd, [])  # kept
    (repo / "d").rename(repo / "d2")
    (repo / "d").symlink_to("d2")
    assert from_index(gd) is None and worktree.recall(gd) is None
    assert capture.source(gd, [])[0]["dirty"] is git_state(repo)["dirty"] is True


def test_replaced_commits_and_symbolic_branches_are_left_to_git(repo: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2")
    gd = settled(repo)
    assert from_index(gd) is not None
    git(repo, "replace", "HEAD", "HEAD~1")
    assert from_index(gd) is None
    info = capture.source(gd, [])[0]
    assert {k: info[k] for k in ("commit", "branch", "dirty")} == git_state(repo)
    git(repo, "replace", "-d", git(repo, "rev-parse", "HEAD").stdout.strip())
    git(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/main")
    git(repo, "symbolic-ref", "HEAD", "refs/heads/alias")
    age(repo)
    capture.source(gd, [])  # kept, through the chain
    git(repo, "update-ref", "refs/heads/main", "HEAD~1")
    assert worktree.recall(gd) is None
    info = capture.source(gd, [])[0]
    assert info["commit"] == git(repo, "rev-parse", "HEAD").stdout.strip()


def test_an_untracked_attributes_file_changes_a_kept_patch(gd, repo: Path) -> None:
    (repo / "train.py").write_text("print('dirty')\n")
    age(repo)
    assert b"+print('dirty')" in capture.source(gd, [])[1]
    (repo / ".gitattributes").write_text("train.py binary\n")  # untracked
    assert worktree.recall(gd) is None
    assert b"GIT binary patch" in capture.source(gd, [])[1]


def test_file_names_that_are_not_utf8_are_kept(gd, repo: Path) -> None:
    name = os.fsdecode(b"caf\xe9.txt")
    (repo / name).write_text("x\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "latin-1 name")
    (repo / name).write_text("y\n")
    age(repo)
    info, patch = capture.source(gd, [])
    assert info["dirty"] and patch
    worktree.forget()
    assert worktree.recall(gd) == ({k: info[k] for k in ("commit", "branch", "dirty")}, patch)
