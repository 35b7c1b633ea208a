"""Sharing through real remotes: push, pull and sync between clones (SPEC §3, P3)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.runs.record import canonical_points
from tests.conftest import free_port, git, ledger_state, make_repo, run_ledger, user_state
from tests.sync.sharing import (
    bare_remote,
    bulk_runs,
    clone_of,
    env_with_path,
    ledger_shim,
    ref_of,
    tree_of,
)


def sync(repo: Path, *args: str, **kw):
    return run_ledger("sync", *args, cwd=repo, **kw)


def test_two_clones_of_200_runs_each_converge(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    a, b = clone_of(remote, tmp_path / "a"), clone_of(remote, tmp_path / "b")
    logged = bulk_runs(a, 200, "a") | bulk_runs(b, 200, "b")
    one = run_ledger("log", "-p", "lr=0.1", "-m", "acc=0.9", cwd=a).out.strip()
    before = user_state(a)

    first = sync(a)
    assert first.code == 0, first.err
    assert "push to origin: pushed" in first.out
    second = sync(b)
    assert second.code == 0, second.err
    assert "pull from origin: merged, 201 runs added or changed" in second.out
    third = sync(a)
    assert third.code == 0 and "fast-forward, 200 runs" in third.out, third.out

    assert tree_of(a) == tree_of(b) == tree_of(remote)
    assert ref_of(a) == ref_of(b) == ref_of(remote)
    for clone in (a, b):
        lg = Ledger(clone)
        ids = {r.id for r in lg.list_runs(include_deleted=True)}
        assert ids == set(logged) | {one}
        for rid, points in logged.items():
            assert lg.metric_points(rid) == canonical_points(points)
    # the user's own state is untouched, and git itself is happy
    assert user_state(a) == before
    assert not (a / ".git" / "FETCH_HEAD").exists()
    assert git(remote, "fsck", "--strict", "--no-dangling").returncode == 0
    assert git(a, "rev-parse", "refs/ledger/remotes/origin/runs").stdout.strip() == ref_of(a)


def test_pull_into_an_empty_clone_and_by_url(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    a = clone_of(remote, tmp_path / "a")
    bulk_runs(a, 5)
    assert run_ledger("push", cwd=a).code == 0
    fresh = make_repo(tmp_path / "fresh")  # no remote configured: give the path
    pulled = run_ledger("pull", str(remote), cwd=fresh)
    assert pulled.code == 0, pulled.err
    assert "created" in pulled.out and "5 runs" in pulled.out
    assert ref_of(fresh) == ref_of(a)
    labels = git(fresh, "for-each-ref", "--format=%(refname)", "refs/ledger/remotes").stdout
    assert labels.strip().startswith("refs/ledger/remotes/remote-git-")
    again = run_ledger("pull", f"file://{remote}", cwd=fresh)
    assert again.code == 0 and "up to date" in again.out
    # the Python API takes a path or an open Ledger
    from ledger.sync import share as sharing

    result = sharing.sync(Ledger(fresh), str(remote), sharing.Options(tries=1))
    assert (result.pulled, result.pushed, result.tag_conflicts) == ("up to date", "up to date", [])
    pulled_again = sharing.pull(fresh, f"file://{remote}")
    assert (pulled_again.pulled, pulled_again.remote) == ("up to date", f"file://{remote}")


@pytest.fixture
def diverged_world(tmp_path: Path) -> tuple[Path, str]:
    """A remote and two clones that share one run, then edit it differently."""
    world = tmp_path / "world"
    remote = bare_remote(world / "remote.git")
    a, b = clone_of(remote, world / "a"), clone_of(remote, world / "b")
    rid = run_ledger("log", "-m", "acc=0.5", "-t", "k=base", cwd=a).out.strip()
    assert sync(a).code == 0 and sync(b).code == 0
    assert run_ledger("tag", rid, "k=from-a", cwd=a).code == 0
    assert run_ledger("tag", rid, "k=from-b", "other=b", cwd=b).code == 0
    assert run_ledger("delete", rid, cwd=a).code == 0
    assert run_ledger("untag", rid, "k", cwd=a).code == 0
    assert run_ledger("tag", rid, "late=b", cwd=b).code == 0
    return world, rid


def _copy_world(world: Path, dest: Path) -> tuple[Path, Path, Path]:
    shutil.copytree(world, dest, symlinks=True)
    for clone in ("a", "b"):
        git(dest / clone, "remote", "set-url", "origin", str(dest / "remote.git"))
    return dest / "remote.git", dest / "a", dest / "b"


def test_edits_of_one_run_on_two_clones_converge_whichever_pulls_first(
        diverged_world: tuple[Path, str], tmp_path: Path) -> None:
    world, rid = diverged_world
    finals = []
    for order in (("a", "b", "a"), ("b", "a", "b")):
        remote, a, b = _copy_world(world, tmp_path / "".join(order))
        clones = {"a": a, "b": b}
        for name in order:
            result = sync(clones[name])
            assert result.code == 0, result.err
        assert tree_of(a) == tree_of(b) == tree_of(remote)
        finals.append(tree_of(a))
        run = Ledger(a).get_run(rid)
        # the deletion and the untag on a, the later tags on b: every last write wins
        assert run.info.deleted is True
        assert run.tags == {"other": "b", "late": "b"}
    assert finals[0] == finals[1]


def test_model_tags_travel_in_small_groups_and_are_never_overwritten(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    log = tmp_path / "tag-pushes.log"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nn=$(grep -c ' refs/tags/')\necho $n >> {log}\nexit 0\n")
    hook.chmod(0o755)
    a, b = clone_of(remote, tmp_path / "a"), clone_of(remote, tmp_path / "b")
    names = [f"model-{i}@v0.0.1" for i in range(45)] + ["iris#production#1", "iris@deprecated"]
    for name in names:
        git(a, "tag", "-a", name, "-m", f"version {name}")
    git(a, "tag", "-a", "v1.0", "-m", "not ours")
    git(a, "tag", "release-2")
    run_ledger("log", "-m", "acc=1", cwd=a)

    pushed = sync(a)
    assert pushed.code == 0, pushed.err
    assert "47 pushed" in pushed.out
    on_remote = set(git(remote, "tag", "--list").stdout.split())
    assert on_remote == set(names)
    counts = [int(n) for n in log.read_text().split()]
    assert max(counts) <= 20 and sum(counts) == len(names), counts

    git(b, "tag", "-a", "model-3@v0.0.1", "-m", "a different object under the same name")
    mine = git(b, "rev-parse", "model-3@v0.0.1").stdout
    theirs = git(remote, "rev-parse", "model-3@v0.0.1").stdout
    run_ledger("log", "-m", "acc=2", cwd=b)
    clash = sync(b)
    assert clash.code == 1
    assert clash.err.startswith("error: 1 model tag(s) differ") and "model-3@v0.0.1" in clash.err
    assert len(clash.err.strip().splitlines()) == 1
    assert "46 fetched" in clash.out and "push to origin: pushed" in clash.out
    assert git(b, "rev-parse", "model-3@v0.0.1").stdout == mine
    assert git(remote, "rev-parse", "model-3@v0.0.1").stdout == theirs
    assert ref_of(remote) == ref_of(b)
    assert "v1.0" not in git(b, "tag", "--list").stdout.split()


def test_unreachable_remote_is_one_clear_line_and_changes_nothing(tmp_path: Path) -> None:
    a = make_repo(tmp_path / "a")
    bulk_runs(a, 3)
    git(a, "remote", "add", "origin", str(tmp_path / "gone.git"))
    git(a, "remote", "add", "daemon", f"git://127.0.0.1:{free_port()}/gone.git")
    before = ledger_state(a)
    for args in (["pull"], ["push"], ["sync"], ["pull", "daemon"], ["push", "daemon"]):
        result = run_ledger(*args, cwd=a)
        assert result.code == 1, (args, result)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot "), (args, lines)
        assert ledger_state(a) == before
    assert "does not appear to be a git repository" in run_ledger("pull", cwd=a).err
    assert "unable to connect" in run_ledger("pull", "daemon", cwd=a).err
    bad = run_ledger("pull", "nowhere", cwd=a)
    assert bad.code == 1 and "no remote 'nowhere'" in bad.err


def test_git_push_runs_the_hook_that_pushes_the_ledger(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    a = clone_of(remote, tmp_path / "a")
    marker = tmp_path / "mine.log"
    hooks = a / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-push").write_text(f"#!/bin/sh\necho \"$1 $(cat | wc -l)\" >> {marker}\n")
    (hooks / "pre-push").chmod(0o755)
    env = env_with_path(ledger_shim(tmp_path / "bin"))
    assert run_ledger("init", "--hooks", cwd=a, env=env).code == 0
    bulk_runs(a, 3)

    pushed = git(a, "push", "origin", "HEAD:refs/heads/main", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert ref_of(remote) == ref_of(a) is not None
    assert ref_of(remote, "refs/heads/main") == ref_of(a, "HEAD")
    # the user's own hook ran once, with git's input, and nothing recursed
    assert marker.read_text() == "origin 1\n"

    bulk_runs(a, 2)  # the ledger alone moved: an up-to-date branch push still carries it
    again = git(a, "push", "origin", "HEAD:refs/heads/main", env=env)
    assert again.returncode == 0
    assert ref_of(remote) == ref_of(a)

    # a failing user hook still stops the push (its verdict stands)
    (a / ".git" / "hooks" / "pre-push.local").write_text("#!/bin/sh\nexit 1\n")
    git(a, "commit", "-q", "--allow-empty", "-m", "more")
    denied = git(a, "push", "origin", "HEAD:refs/heads/main", env=env, check=False)
    assert denied.returncode != 0
    assert ref_of(remote, "refs/heads/main") != ref_of(a, "HEAD")
