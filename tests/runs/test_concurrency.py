"""P2 and P1 with real processes: concurrent writers and SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git, kill_group, run_ledger

WRITER = """
import sys, ledger
lg = ledger.Ledger(sys.argv[1])
worker = int(sys.argv[2])
for i in range(int(sys.argv[3])):
    with lg.start_run(experiment="conc", name=f"w{worker}-{i}") as run:
        run.log_params({"worker": worker, "i": i})
        for step in range(10):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.set_tag("who", f"w{worker}")
"""


def test_eight_processes_land_every_run(repo: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(repo), str(w), "25"],
                              stderr=subprocess.PIPE, text=True) for w in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    runs = json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)
    assert len(runs) == 200
    names = {r["name"] for r in runs}
    assert names == {f"w{w}-{i}" for w in range(8) for i in range(25)}
    assert all(r["status"] == "FINISHED" and r["metrics"] == {"loss": 0.1} for r in runs)
    from ledger.api import Ledger

    lg = Ledger(repo)
    for r in runs[:: 17]:
        assert [p[1] for p in lg.metric_points(r["id"], "loss")] == list(range(10))
    # the ref never lost a commit: every run's end is in the linear history
    log = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.splitlines()
    assert sum(line.endswith("(alice)") and " finished" in line for line in log) == 200
    assert git(repo, "fsck", "--strict", "--no-dangling").returncode == 0
    assert not list((repo / ".git" / "ledger" / "journal").glob("*.journal"))


VICTIM = """
import sys, ledger
run = ledger.Ledger(sys.argv[1]).start_run(experiment="crash", name="victim")
run.log_param("lr", "0.1")
for step in range(1000):
    run.log_metric("loss", step * 0.5, step=step)
run.set_tag("phase", "training")
print(run.id, flush=True)
sys.stdin.read()  # wait to be killed
"""


def test_sigkill_keeps_every_journaled_point(repo: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", VICTIM, str(repo)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "LEDGER_FLUSH_SECONDS": "3600"})
    rid = proc.stdout.readline().strip()
    assert len(rid) == 32
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # nothing committed yet; the next command on this machine recovers the run
    listed = run_ledger("runs", "--format", "json", cwd=repo)
    assert listed.code == 0, listed.err
    run = json.loads(run_ledger("show", rid, "--format", "json", cwd=repo).out)
    assert run["status"] == "KILLED"
    assert run["params"] == {"lr": "0.1"} and run["tags"] == {"phase": "training"}
    assert run["metrics"] == {"loss": 999 * 0.5}
    hist = json.loads(run_ledger("metrics", rid, "--format", "json", cwd=repo).out)
    assert [h["step"] for h in hist] == list(range(1000))
    assert [h["value"] for h in hist] == [s * 0.5 for s in range(1000)]
    assert not list((repo / ".git" / "ledger" / "journal").glob("*.journal"))
    log = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.splitlines()
    assert log[0].startswith(f"run {rid} killed")


def test_live_owner_is_not_recovered(repo: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", VICTIM, str(repo)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "LEDGER_FLUSH_SECONDS": "3600"})
    rid = proc.stdout.readline().strip()
    try:
        assert run_ledger("recover", cwd=repo).out == ""
        run = json.loads(run_ledger("show", rid, "--format", "json", cwd=repo).out)
        assert run["status"] == "RUNNING" and run["metrics"] == {"loss": 999 * 0.5}
    finally:
        proc.kill()
        proc.wait()
    assert run_ledger("recover", cwd=repo).out.strip() == rid


ATTACHED = """
import ledger, os
ledger.log_metric("child_metric", 1.5, step=1)
ledger.set_tag("child", "yes")
os.kill(os.getpid(), 9) if os.environ.get("DIE") else None
"""


def test_child_process_logs_into_parent_run(repo: Path) -> None:
    from ledger.api import Ledger

    lg = Ledger(repo)
    with lg.start_run(experiment="parent") as run:
        run.log_metric("parent_metric", 1.0)
        env = {**os.environ, "LEDGER_RUN_ID": run.id, "LEDGER_REPO": str(repo)}
        subprocess.run([sys.executable, "-c", ATTACHED], env=env, check=True)
        killed = subprocess.run([sys.executable, "-c", ATTACHED.replace("child_metric", "late")],
                                env={**env, "DIE": "1"})
        assert killed.returncode == -9
        time.sleep(0.05)
    got = Ledger(repo).get_run(run.id)
    assert got.info.status == "FINISHED"
    assert got.metrics == {"parent_metric": 1.0, "child_metric": 1.5, "late": 1.5}
    assert got.tags == {"child": "yes"}


def test_killed_ledger_exec_leaves_a_killed_run(repo: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ledger.cli", "exec", "--", sys.executable,
                             "-c", "import time; time.sleep(30)"], cwd=repo,
                            start_new_session=True)
    jdir = repo / ".git" / "ledger" / "journal"
    deadline = time.time() + 30
    while time.time() < deadline and not list(jdir.glob("*.journal")):
        time.sleep(0.05)
    kill_group(proc)  # the ledger process and its child
    runs = json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)
    assert [r["status"] for r in runs] == ["KILLED"]
