"""The journal under faults: a short write never acknowledges a torn record, any damage to a
dead run's journal is survived and set aside, a forked child's points are not lost."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.cli import main
from ledger.runs import journal
from tests.conftest import make_repo


def cli(repo: Path, *args: str) -> tuple[int, str, str]:
    """The real CLI, in this process (fast enough for a fuzz loop)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([args[0], "--repo", str(repo), *args[1:]])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def child(repo: Path, body: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    code = "import os, sys, ledger\nlg = ledger.Ledger(sys.argv[1])\n" + body
    return subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


DEAD_RUN = """
run = lg.start_run(experiment="fuzz", name="victim", params={"lr": "0.1"})
for i in range(20):
    run.log_metric("loss", 1.0 / (i + 1), step=i)
run.set_tag("team", "vision")
run.log_text("hello", "notes/a.txt")
run.log_input(sys.argv[1] + "/train.py")
print(run.id)
os._exit(0)
"""


def test_short_write_is_never_acknowledged(repo: Path) -> None:
    """RLIMIT_FSIZE makes os.write short (as a full disk does): the call raises, the journal
    keeps only whole records, and recovery finds exactly the acknowledged points."""
    body = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
run = lg.start_run(experiment="full")
path = run._journal.path
limit = path.stat().st_size + 1000
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
acked, failures = 0, 0
for i in range(400):
    try:
        run.log_metric("m", float(i), step=acked)
        acked += 1
    except ledger.LedgerError as exc:
        failures += 1
        assert "journal" in str(exc), exc
assert path.stat().st_size <= limit
print(run.id, acked, failures)
os._exit(0)
"""
    proc = child(repo, body)
    assert proc.returncode == 0, proc.stderr
    rid, acked, failures = proc.stdout.split()
    assert int(failures) > 0 and int(acked) > 0
    lg = Ledger(repo)
    points = lg.metric_points(rid, "m")
    assert [p[1] for p in points] == list(range(int(acked)))
    assert [p[3] for p in points] == [float(i) for i in range(int(acked))]
    assert lg.get_run(rid).info.status == "KILLED"
    assert lg.set_aside() == []


@pytest.fixture
def dead_journal(tmp_path: Path) -> tuple[bytes, str]:
    repo = make_repo(tmp_path / "source")
    proc = child(repo, DEAD_RUN)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    [path] = journal.scan(repo / ".git" / "ledger" / "journal")
    return path.read_bytes(), path.name


@pytest.mark.slow
def test_fuzzed_journal_never_bricks_the_ledger(repo: Path, dead_journal: tuple[bytes, str]
                                                ) -> None:
    data, name = dead_journal
    keeper = Ledger(repo).log_run("other", "keeper", params={"a": "1"})
    jdir = repo / ".git" / "ledger" / "journal"
    jdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(9)
    for i in range(150):
        damaged = bytearray(data)
        if i % 3 == 2:
            damaged = damaged[:rng.randrange(len(damaged))]
        else:
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        (jdir / name).write_bytes(bytes(damaged))
        for args in (("runs", "--format", "json"), ("recover",), ("show", keeper),
                     ("runs", "--format", "csv"), ("experiments", "--format", "json")):
            code, out, err = cli(repo, *args)
            assert code in (0, 1), (i, args, err)
            if args[0] == "runs" and args[-1] == "json":
                assert keeper in {r["id"] for r in json.loads(out)}, (i, err)
        left = journal.read(jdir / name) if (jdir / name).exists() else None
        # committed, or set aside, unless the damage made it look like a live writer's
        assert left is None or journal.owner_alive(left.header, left.mtime), (i, left)
        if left is not None:
            (jdir / name).unlink()
        jail = jdir / "quarantine"
        if (jail / name).exists():
            code, _out, err = cli(repo, "recover")
            assert "set aside" in err and name in err
            (jail / name).unlink()
            (jail / (name + ".why")).unlink()


def test_damaged_journal_is_committed_as_far_as_valid_and_set_aside(
        repo: Path, dead_journal: tuple[bytes, str]) -> None:
    data, name = dead_journal
    jdir = repo / ".git" / "ledger" / "journal"
    jdir.mkdir(parents=True, exist_ok=True)
    (jdir / name).write_bytes(data[:-3] + b"\xc1\xc1\xc1")  # 0xc1: never valid msgpack
    code, out, err = cli(repo, "recover")
    assert code == 0
    rid = name.split(".")[0]
    assert out.split() == [rid]
    assert "set aside" in err and "quarantine" in err
    run = Ledger(repo).get_run(rid)
    assert run.info.status == "KILLED" and run.params == {"lr": "0.1"}
    assert len(Ledger(repo).metric_points(rid, "loss")) == 20


def test_header_alone_leaves_no_ghost(repo: Path) -> None:
    """SIGKILL between the journal's creation and its first record: no run appears."""
    jdir = repo / ".git" / "ledger" / "journal"
    jdir.mkdir(parents=True)
    rid = "0193ab12" + "0" * 22 + "ab"
    header = {"v": 1, "run": rid, "role": "owner", "host": journal.HOST,
              "boot": journal.BOOT_ID, "pid": 2**22 + 7, "pid_start": 1}
    import msgpack

    (jdir / f"{rid}.1.abcd.journal").write_bytes(msgpack.packb(header))
    lg = Ledger(repo)
    assert lg.list_runs() == [] and list(journal.scan(jdir)) == []


def test_failed_start_run_leaves_nothing(repo: Path) -> None:
    lg = Ledger(repo)
    for bad in ("", "x" * 501, "bad\udcffname", "tab\tname"):
        with pytest.raises(ledger_error()):
            lg.start_run(experiment=bad)
    jdir = repo / ".git" / "ledger" / "journal"
    assert not list(journal.scan(jdir)) and not list(jdir.glob(".*.tmp"))
    assert Ledger(repo).list_runs() == []


def ledger_error() -> type[Exception]:
    from ledger.errors import LedgerError

    return LedgerError


def test_forked_children_points_land_in_the_run(repo: Path) -> None:
    body = """
import multiprocessing as mp
def work(i):
    run.log_metric("child", float(i), step=i)
    return os.getpid()
run = lg.start_run(experiment="fork")
run.log_metric("parent", 1.0)
with mp.get_context("fork").Pool(2) as pool:
    pids = pool.map(work, range(6))
run.end()
print(run.id)
"""
    proc = child(repo, body)
    assert proc.returncode == 0, proc.stderr
    rid = proc.stdout.strip()
    lg = Ledger(repo)
    assert lg.get_run(rid).info.status == "FINISHED"
    assert sorted(p[1] for p in lg.metric_points(rid, "child")) == list(range(6))
    assert [p[3] for p in lg.metric_points(rid, "parent")] == [1.0]
    assert list(journal.scan(lg.journal_dir)) == []


@pytest.mark.slow
def test_a_busy_ref_never_sets_a_journal_aside(repo: Path) -> None:
    """A stale lock on the ref (its holder was killed): recovery cannot commit, so the dead
    run's journal stays where it is, and is committed once the ref is free."""
    proc = child(repo, DEAD_RUN)
    rid = proc.stdout.strip()
    lock = repo / ".git" / "refs" / "ledger" / "runs.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    code, out, err = cli(repo, "runs", "--format", "json")
    assert code == 0, err
    jdir = repo / ".git" / "ledger" / "journal"
    assert len(list(journal.scan(jdir))) == 1 and not (jdir / "quarantine").exists()
    lock.unlink()
    assert Ledger(repo).get_run(rid).info.status == "KILLED"
    assert list(journal.scan(jdir)) == []
