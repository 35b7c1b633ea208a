"""Commits write one small pack each, never loose objects; the ledger merges its own packs
(and only its own) so that a long sweep leaves a bounded number of files, with `git fsck
--strict` and `git gc` clean."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.store.packs import Packs, index_ids
from tests.conftest import git, run_ledger


def loose_objects(repo: Path) -> list[Path]:
    objects = repo / ".git" / "objects"
    return [p for p in objects.glob("??/*") if p.is_file()]


def pack_files(repo: Path) -> set[str]:
    return {p.name for p in (repo / ".git" / "objects" / "pack").iterdir()}


def log_runs(lg: Ledger, n: int, prefix: str = "r") -> list[str]:
    return [lg.log_run("sweep", f"{prefix}-{i}", params={"i": i, "lr": 0.1},
                       metrics=[("loss", 1.0 / (s + 1), s) for s in range(5)],
                       tags={"t": "x"}) for i in range(n)]


def test_a_commit_writes_one_pack_and_no_loose_object(repo: Path) -> None:
    before = loose_objects(repo)
    lg = Ledger(repo)
    lg.log_run("e", "first", params={"a": 1}, metrics=[("m", 1.0, 0)])
    packs = Packs(repo / ".git" / "objects")
    first = set(packs.owned())
    assert first  # the package list, and the commit with the run's objects
    lg.log_run("e", "second", params={"a": 2}, metrics=[("m", 2.0, 0)])
    assert len(set(packs.owned()) - first) == 1  # one pack (.pack + .idx) per commit
    assert loose_objects(repo) == before
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    assert git(repo, "cat-file", "-t", "refs/ledger/runs").stdout.strip() == "commit"


def test_merging_keeps_every_object_and_touches_no_foreign_pack(repo: Path) -> None:
    git(repo, "repack", "-q", "-d")  # the user's own pack
    foreign = pack_files(repo)
    lg = Ledger(repo)
    ids = log_runs(lg, 12)
    packs = Packs(repo / ".git" / "objects")
    owned = packs.owned()
    every = {sha for name in owned for sha in index_ids(packs.pack_dir / f"{name}.idx")}
    merged = packs.merge(everything=True)
    assert merged is not None
    assert set(packs.owned()) == {merged}
    assert set(index_ids(packs.pack_dir / f"{merged}.idx")) == every
    assert foreign <= pack_files(repo)  # never deleted, never merged
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    runs = json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)
    assert sorted(r["id"] for r in runs) == sorted(ids)


def test_a_long_sweep_leaves_a_bounded_number_of_files(repo: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_MAX_PACKS", "6")
    loose = loose_objects(repo)
    lg = Ledger(repo)
    ids = log_runs(lg, 60)
    packs = Packs(repo / ".git" / "objects")
    deadline = time.monotonic() + 60  # the merges run in the background: wait for them
    while time.monotonic() < deadline and len(packs.owned()) > 6:
        time.sleep(0.1)
    packs.wait()
    assert len(packs.owned()) <= 6
    assert len(pack_files(repo)) <= 2 * 7 + 2  # the ledger's packs, the user's, a spare
    assert loose_objects(repo) == loose
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    git(repo, "gc", "-q")
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    count = dict(line.split(": ") for line in
                 git(repo, "count-objects", "-v").stdout.strip().splitlines())
    assert count["garbage"] == "0"
    fresh = Ledger(repo)
    assert sorted(fresh.store.run_ids(fresh.store.root(fresh.store.head()))) == sorted(ids)
    assert fresh.get_run(ids[-1]).params == {"i": "59", "lr": "0.1"}


def test_packs_fetched_by_the_ledger_are_merged_too(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    log_runs(Ledger(other), 3, "remote")
    lg = Ledger(repo)
    log_runs(lg, 2, "local")
    packs = Packs(repo / ".git" / "objects")
    before = set(packs.owned())
    assert run_ledger("pull", str(other), cwd=repo).code == 0
    fetched = set(packs.owned()) - before
    assert fetched  # the fetch's pack is the ledger's now, merged with the rest later
    assert packs.merge(everything=True) is not None
    assert len(packs.owned()) == 1
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    assert len(json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)) == 5


def test_a_pack_kept_by_git_is_left_alone(repo: Path) -> None:
    lg = Ledger(repo)
    log_runs(lg, 3)
    packs = Packs(repo / ".git" / "objects")
    kept = sorted(packs.owned())[0]
    (packs.pack_dir / f"{kept}.keep").write_text("")
    packs.merge(everything=True)
    assert (packs.pack_dir / f"{kept}.pack").exists()
    assert kept not in packs.listed()
    os.remove(packs.pack_dir / f"{kept}.keep")
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
