"""Odd repositories and environments: SHA-256 object names, read-only mounts, GIT_DIR and
GIT_WORK_TREE, a dirty tree's index, a full disk, a run killed on another host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from ledger.api import Ledger
from ledger.runs import journal
from tests.conftest import git, make_repo, run_ledger, user_state

# -- real mounts (a small tmpfs, a read-only bind), where the tests run as root -------------


def _mount(*args: str) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: a disk that fills up."""
    where = tmp_path / "small"
    where.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)):
        pytest.skip("needs root and mount (tmpfs)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only() -> Iterator:
    """read_only(folder) -> the same folder, mounted read-only elsewhere."""
    mounted: list[Path] = []

    def make(folder: Path) -> Path:
        view = folder.parent / (folder.name + "-ro")
        view.mkdir()
        if not (_mount("--bind", str(folder), str(view))
                and _mount("-o", "remount,bind,ro", str(view))):
            pytest.skip("needs root and mount (read-only bind)")
        mounted.append(view)
        return view

    yield make
    for view in mounted:
        subprocess.run(["umount", "-l", str(view)], check=False)


def test_sha256_repository_is_refused_with_nothing_written(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    if git(repo, "init", "-q", "--object-format=sha256", check=False).returncode != 0:
        pytest.skip("git without SHA-256 support")
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    for args in (("log", "-m", "a=1"), ("runs",), ("start",)):
        res = run_ledger(*args, cwd=repo)
        assert res.code == 1 and "SHA-256" in res.err and res.err.count("\n") == 1, res.err
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before
    assert git(repo, "fsck").returncode == 0


def test_read_only_repository(repo: Path, read_only) -> None:
    lg = Ledger(repo)
    rid = lg.log_run("e", "r", params={"a": "1"}, metrics=[("acc", 0.5, 0)])
    body = ("import os, sys, ledger\nrun = ledger.Ledger(sys.argv[1]).open_run('e')\n"
            "run.log_metric('m', 2.0)\nprint(run.id)\nos._exit(0)\n")
    dead = subprocess.run([sys.executable, "-c", body, str(repo)], capture_output=True,
                          text=True).stdout.strip()  # its journal cannot be committed here
    view = read_only(repo)
    shown = run_ledger("show", dead, "--format", "json", cwd=view)
    assert shown.code == 0 and json.loads(shown.out)["metrics"] == {"m": 2.0}, shown.err
    for args in (("runs", "--format", "json"), ("show", rid), ("metrics", rid),
                 ("experiments",), ("runs", "--format", "csv")):
        res = run_ledger(*args, cwd=view)
        assert res.code == 0, (args, res.err)
        if "json" in args:
            assert [r["id"] for r in json.loads(res.out)] == [rid]
    for args in (("log", "-m", "a=1"), ("tag", rid, "k=v"), ("start",), ("reindex",)):
        res = run_ledger(*args, cwd=view)
        assert res.code == 1 and res.err.startswith("error:"), (args, res.err)
        assert res.err.count("\n") == 1, res.err


def test_git_dir_and_work_tree_are_honoured(tmp_path: Path) -> None:
    here = make_repo(tmp_path / "here")
    there = make_repo(tmp_path / "there")
    (there / "train.py").write_text("print('changed')\n")  # dirty, there only
    env = {"GIT_DIR": str(there / ".git"), "GIT_WORK_TREE": str(there)}
    res = run_ledger("log", "-p", "a=1", cwd=here, env=env)
    assert res.code == 0, res.err
    rid = res.out.strip()
    assert Ledger(here).list_runs() == []
    run = Ledger(there).get_run(rid)
    there_head = git(there, "rev-parse", "HEAD").stdout.strip()
    assert run.source["commit"] == there_head and run.source["dirty"] is True
    # an explicit --repo wins over the environment, and records its own source
    res = run_ledger("log", "--repo", str(here), "-p", "a=1", cwd=here, env=env)
    run = Ledger(here).get_run(res.out.strip())
    assert run.source["commit"] == git(here, "rev-parse", "HEAD").stdout.strip()
    assert run.source["dirty"] is False


def test_dirty_tree_diff_leaves_the_index_alone(repo: Path) -> None:
    for name in ("a.py", "b.py", "c.py"):
        (repo / name).write_text(f"# {name}\n")
    git(repo, "add", "a.py", "b.py", "c.py")
    git(repo, "commit", "-qm", "more")
    for name in ("a.py", "b.py", "c.py"):  # same contents, new stat info: git would refresh
        os.utime(repo / name, (1, 1))
    (repo / "train.py").write_text("print('dirty')\n")
    before = user_state(repo)
    res = run_ledger("log", "-m", "a=1", cwd=repo)
    assert res.code == 0, res.err
    assert user_state(repo) == before
    run = Ledger(repo).get_run(res.out.strip())
    assert run.source["dirty"] is True


def test_foreign_host_run_is_recovered_and_ended_with_its_metrics(repo: Path) -> None:
    """A journal written by a container on another host (shared volume): it is recovered
    once it has not been written for LEDGER_ABANDONED_SECONDS; `ledger end` commits its
    metrics at once."""
    lg = Ledger(repo)
    run = lg.open_run("e")
    for i in range(5):
        run.log_metric("loss", float(i), step=i)
    run._journal.close()
    path = run._journal.path
    data = path.read_bytes()
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    items = list(unpacker)
    items[0]["host"] = "another-host"
    path.write_bytes(b"".join(msgpack.packb(i) for i in items))
    # young: it may still be alive over there
    assert Ledger(repo).recover() == [] and path.exists()
    # `ledger end` now: committed with its metrics (the journal waits for its verdict)
    res = run_ledger("end", run.id, cwd=repo)
    assert res.code == 0, res.err
    assert [p[3] for p in Ledger(repo).metric_points(run.id, "loss")] == [0.0, 1.0, 2.0, 3.0,
                                                                         4.0]
    assert Ledger(repo).get_run(run.id).info.status == "FINISHED"
    # old: abandoned; recovered (KILLED is inferred, so the explicit end stands)
    res = run_ledger("runs", cwd=repo, env={"LEDGER_ABANDONED_SECONDS": "0"})
    assert res.code == 0 and not path.exists()
    assert Ledger(repo).get_run(run.id).info.status == "FINISHED"


def test_foreign_host_run_killed_is_recovered(repo: Path) -> None:
    body = ("import os, sys, ledger\nlg = ledger.Ledger(sys.argv[1])\n"
            "run = lg.open_run('e')\nrun.log_metric('m', 7.0)\nprint(run.id)\nos._exit(0)\n")
    proc = subprocess.run([sys.executable, "-c", body, str(repo)], capture_output=True,
                          text=True, env={**os.environ, "LEDGER_FAKE": "1"})
    rid = proc.stdout.strip()
    [path] = journal.scan(repo / ".git" / "ledger" / "journal")
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(path.read_bytes())
    items = list(unpacker)
    items[0].update(host="container-7", pidns=1)
    path.write_bytes(b"".join(msgpack.packb(i) for i in items))
    os.utime(path, (1, 1))  # last written long ago
    res = run_ledger("recover", cwd=repo)
    assert res.code == 0 and res.out.split() == [rid], res.err
    run = Ledger(repo).get_run(rid)
    assert run.info.status == "KILLED" and run.metrics == {"m": 7.0}


@pytest.mark.slow
def test_full_disk_is_one_line_and_leaves_no_debris(small_disk: Path) -> None:
    repo = make_repo(small_disk / "repo")
    Ledger(repo).log_run("e", "before")
    big = small_disk.parent / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    res = run_ledger("log", "-a", str(big), cwd=repo)
    assert res.code == 1 and res.err.startswith("error:"), res.err
    assert res.err.count("\n") == 1
    assert not list((repo / ".git" / "objects").rglob("tmp_obj_*"))
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # fill the disk to the last byte
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    for args in (("log", "-p", "a=1"), ("start",)):
        res = run_ledger(*args, cwd=repo)
        assert res.code == 1 and res.err.startswith("error:"), (args, res.err)
    assert run_ledger("runs", cwd=repo).code == 0
    assert not list((repo / ".git" / "objects").rglob("tmp_obj_*"))
    filler.unlink()
    assert [r.info.run_name for r in Ledger(repo).list_runs()] == ["before"]
    assert git(repo, "fsck").returncode == 0
