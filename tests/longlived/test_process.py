"""One process living long: settings and source as they are when each run starts, an idle
process's run visible to others, an interrupted end, journals that shrink after a flush."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger import Ledger
from ledger.runs import journal
from tests.conftest import git, make_repo, run_ledger


def show(repo: Path, rid: str) -> dict:
    res = run_ledger("show", rid, "--format", "json", cwd=repo)
    assert res.code == 0, res.err
    return json.loads(res.out)


def python(code: str, repo: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=repo, capture_output=True,
                          text=True, **kw)


def test_each_run_records_the_source_as_it_is_when_it_starts(repo: Path) -> None:
    lg = Ledger(repo)

    def source() -> dict:
        run = lg.open_run()
        run.end()
        return lg.get_run(run.id).source

    first = source()
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2")
    second = source()
    (repo / "train.py").write_text("print('dirty')\n")
    third = source()
    git(repo, "stash", "-q")
    git(repo, "checkout", "-qb", "other")
    fourth = source()
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert first["commit"] != head and not first["dirty"]
    assert second["commit"] == head and not second["dirty"] and second["branch"] == "main"
    assert third["commit"] == head and third["dirty"] and third.get("patch")
    assert fourth["branch"] == "other" and not fourth["dirty"]


SETTINGS = r"""
import json, os, sys, ledger
out = {}
os.environ["GIT_DIR"] = os.path.join(sys.argv[1], ".git")
with ledger.start_run(name="other-git-dir") as run:
    out["other"] = run.id
del os.environ["GIT_DIR"]  # unset at runtime: the next run reads its own repository
with ledger.start_run(name="own") as run:
    out["own"] = run.id
os.environ["LEDGER_MAX_ARTIFACT_BYTES"] = "10"
open("big.bin", "wb").write(b"x" * 100)
with ledger.start_run(name="art") as run:
    try:
        ledger.log_artifact("big.bin")
    except ledger.LedgerError as exc:
        out["refused"] = str(exc)
    os.environ["LEDGER_MAX_ARTIFACT_BYTES"] = "1000"  # as the message says: raise it
    ledger.log_artifact("big.bin")
    out["art"] = run.id
print(json.dumps(out))
"""


def test_settings_are_read_when_used(repo: Path, tmp_path: Path) -> None:
    other = make_repo(tmp_path / "other")
    (other / "x.txt").write_text("x")
    git(other, "add", "x.txt")
    git(other, "commit", "-qm", "other")
    proc = python(SETTINGS, repo, str(other))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert show(repo, out["own"])["source"]["commit"] == head
    lg = Ledger(repo)  # each run records the settings it started with
    assert lg.get_run(out["other"]).environment["settings"] == {"GIT_DIR": f"{other}/.git"}
    assert "settings" not in lg.get_run(out["own"]).environment
    assert lg.get_run(out["art"]).environment["settings"] == {"LEDGER_MAX_ARTIFACT_BYTES": "10"}
    assert "LEDGER_MAX_ARTIFACT_BYTES" in out["refused"]
    assert show(repo, out["art"])["artifacts"] == [{"path": "big.bin", "size": 100}]


IDLE = r"""
import os, sys, ledger
os.environ["LEDGER_FLUSH_SECONDS"] = "0.2"  # after import: read as the run starts
run = ledger.start_run(name="idle")
ledger.log_param("lr", 0.1)
ledger.set_tag("phase", "warmup")
ledger.log_metric("loss", 0.5)
ledger.log_text("hello", "note.txt")
print(run.id, flush=True)
sys.stdin.readline()  # idle, like a kernel between cells
ledger.end_run()
"""


def test_an_idle_process_run_is_seen_by_other_processes(repo: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", IDLE], cwd=repo, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        rid = proc.stdout.readline().strip()
        deadline = time.monotonic() + 60
        while True:  # `ledger runs` reads committed runs only: the flush must have happened
            runs = json.loads(run_ledger("runs", "--format", "json", cwd=repo).out or "[]")
            if runs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [r["id"] for r in runs] == [rid]
        (run,) = runs
        assert run["status"] == "RUNNING" and run["params"] == {"lr": "0.1"}
        assert run["tags"] == {"phase": "warmup"} and run["metrics"] == {"loss": 0.5}
        assert run["artifacts"] == [{"path": "note.txt", "size": 5}]
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(60) == 0
    finally:
        proc.kill()
    assert show(repo, rid)["status"] == "FINISHED"


INTERRUPTED = r"""
import json, os, signal, sys, ledger
from ledger.runs.store import RunStore

real = RunStore.commit
hits = []

def commit(self, updates):
    if any(u.event in ("killed", "finished") for u in updates) and not hits:
        hits.append(1)
        os.kill(os.getpid(), signal.SIGINT)  # a real (second) Ctrl-C, in the end's commit
    return real(self, updates)

RunStore.commit = commit
try:
    with ledger.start_run(name="first") as first:
        ledger.log_metric("a", 1.0)
        if sys.argv[1] == "interrupted":
            raise KeyboardInterrupt  # the first Ctrl-C
except KeyboardInterrupt:
    pass
with ledger.start_run(name="second") as second:  # the next run starts
    ledger.log_metric("b", 2.0)
print(json.dumps([first.id, second.id]))
"""


@pytest.mark.parametrize("how", ["interrupted", "finished"])
def test_ctrl_c_during_end_leaves_a_recoverable_killed_run(repo: Path, how: str) -> None:
    proc = python(INTERRUPTED, repo, how)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    first, second = json.loads(proc.stdout)
    assert show(repo, first)["status"] == "KILLED" and show(repo, first)["metrics"] == {"a": 1.0}
    assert show(repo, second)["status"] == "FINISHED"
    assert not list((repo / ".git" / "ledger" / "journal").glob("*.journal"))


def metric_records(repo: Path, rid: str) -> int:
    count = 0
    for path in journal.for_run(repo / ".git" / "ledger" / "journal", rid):
        contents = journal.read(path)
        assert contents is not None
        count += sum(1 for r in contents.records if r[1] == journal.METRIC)
    return count


def test_a_flush_leaves_only_what_is_not_committed_in_the_journal(repo: Path) -> None:
    lg = Ledger(repo)
    with lg.start_run(name="long") as run:
        for step in range(100):
            lg.log_metric("loss", 1.0 / (step + 1), step=step)
        lg.flush()
        assert metric_records(repo, run.id) == 0
        lg.log_metric("loss", 0.0, step=100)
        assert metric_records(repo, run.id) == 1
        assert len(lg.metric_points(run.id, "loss")) == 101
    assert len(lg.metric_points(run.id, "loss")) == 101


KILLED_AFTER_FLUSH = r"""
import os, signal, ledger
run = ledger.start_run(experiment="exp", name="long", params={"lr": 0.1})
for step in range(50):
    ledger.log_metric("loss", float(step), step=step)
ledger.flush()
for step in range(50, 100):
    ledger.log_metric("loss", float(step), step=step)
ledger.set_tag("after", "flush")
print(run.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_after_a_flush_keeps_every_point(repo: Path) -> None:
    proc = python(KILLED_AFTER_FLUSH, repo)
    assert proc.returncode == -signal.SIGKILL
    rid = proc.stdout.strip()
    run = show(repo, rid)  # the next command recovers the rotated journal
    assert run["status"] == "KILLED" and run["experiment"] == "exp" and run["name"] == "long"
    assert run["params"] == {"lr": "0.1"} and run["tags"] == {"after": "flush"}
    history = json.loads(run_ledger("metrics", rid, "--format", "json", cwd=repo).out)
    assert sorted(p["step"] for p in history) == list(range(100))


def test_commands_do_not_read_a_live_journal_beyond_its_header(repo: Path) -> None:
    """A live run's journal is not replayed by commands that do not show it: a 4 GB (sparse)
    journal of a live process leaves `ledger log` and `ledger runs` unaffected."""
    jdir = repo / ".git" / "ledger" / "journal"
    jr = journal.Journal.create(jdir, "0" * 32, journal.OWNER)  # owned by this live process
    jr.close()
    with open(jr.path, "r+b") as f:
        f.truncate(4 << 30)
    assert run_ledger("log", "-p", "a=1", cwd=repo, timeout=60).code == 0
    assert len(json.loads(run_ledger("runs", "--format", "json", cwd=repo, timeout=60).out)) == 1
    assert jr.path.stat().st_size == 4 << 30


FORKED = r"""
import os, time, ledger
os.environ["LEDGER_FLUSH_SECONDS"] = "0.3"
parent = ledger.start_run(name="parent")
ledger.log_metric("p", 1.0)
pid = os.fork()
if pid == 0:  # the child's flush thread commits the child's runs only
    with ledger.Ledger(".").start_run(name="child") as child:
        child.log_metric("c", 1.0)
        time.sleep(1.5)
    os._exit(0)
with parent._lock:  # the parent's own flush thread waits: only a child could flush it now
    os.waitpid(pid, 0)
assert os.path.exists(parent._journal.path), "the child took the parent's journal"
ledger.log_metric("p", 2.0, step=1)
ledger.end_run()
print(parent.id)
"""


def test_a_forked_child_does_not_flush_its_parent_runs(repo: Path) -> None:
    proc = python(FORKED, repo)
    assert proc.returncode == 0, proc.stderr
    rid = proc.stdout.strip()
    history = json.loads(run_ledger("metrics", rid, "--format", "json", cwd=repo).out)
    assert sorted(p["value"] for p in history) == [1.0, 2.0]
    assert show(repo, rid)["status"] == "FINISHED"
