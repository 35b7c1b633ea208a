"""Transfers that die half-way (SIGKILL, network gone, a remote that hangs) leave the local
ledger intact, and the next try completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger.api import Ledger
from tests.conftest import git, kill_group, ledger_state, make_repo, run_ledger
from tests.sync.sharing import bare_remote, bulk_runs, ref_of, tree_of

RELAY = Path(__file__).parent / "slow_relay.py"


def relay_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "GIT_SSH_COMMAND": f"{sys.executable} {RELAY}",
            "GIT_SSH_VARIANT": "simple", **extra}


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ledger.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def wait_for_bytes(log: Path, at_least: int, proc: subprocess.Popen, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if log.exists() and int(log.read_text() or 0) >= at_least:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the transfer did not start")


def fsck_ok(repo: Path) -> bool:
    result = git(repo, "fsck", "--no-dangling", check=False)
    return result.returncode == 0 and "error" not in result.stderr.lower()


def big_ledger(repo: Path, tmp: Path) -> None:
    bulk_runs(repo, 20)
    payload = tmp / "weights.bin"
    payload.write_bytes(os.urandom(3 * 1024 * 1024))  # incompressible: the transfer takes time
    Ledger(repo).log_run("big", artifacts=[(str(payload), None)])


def test_killed_push_and_pull_leave_everything_intact_and_retry_completes(tmp_path: Path):
    remote = bare_remote(tmp_path / "remote.git")
    a = make_repo(tmp_path / "a")
    big_ledger(a, tmp_path)
    git(a, "remote", "add", "origin", f"ssh://relay.invalid{remote}")
    before = ledger_state(a)
    log, pid = tmp_path / "relay.bytes", tmp_path / "relay.pid"
    slow = relay_env(RELAY_RATE="300000", RELAY_LOG=str(log), RELAY_PID=str(pid))

    # 1. the machine dies mid-push: SIGKILL to `ledger push` and everything it started
    proc = start(["push"], a, slow)
    wait_for_bytes(log, 200_000, proc)
    kill_group(proc)
    assert ledger_state(a) == before and fsck_ok(a)
    assert ref_of(remote) is None and fsck_ok(remote)

    # 2. the network goes away mid-push: a clear error, nothing changed
    log.unlink()
    proc = start(["push"], a, slow)
    wait_for_bytes(log, 200_000, proc)
    os.kill(int(pid.read_text()), signal.SIGKILL)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert len(err.decode().strip().splitlines()) == 1 and err.startswith(b"error: "), err
    assert ledger_state(a) == before and ref_of(remote) is None

    # 3. a remote that hangs: bounded by LEDGER_SYNC_TIMEOUT
    started = time.monotonic()
    hung = run_ledger("push", cwd=a, env=relay_env(RELAY_HANG="1", LEDGER_SYNC_TIMEOUT="1"))
    assert hung.code == 1 and "no answer for 1 s" in hung.err, hung.err
    assert time.monotonic() - started < 15
    assert ledger_state(a) == before

    # 4. the next try completes; it takes longer than the timeout, but keeps making progress
    started = time.monotonic()
    done = run_ledger("push", cwd=a, env=relay_env(RELAY_RATE="1000000", LEDGER_SYNC_TIMEOUT="2"))
    assert done.code == 0, done.err
    assert time.monotonic() - started > 2.5
    assert ref_of(remote) == ref_of(a) and fsck_ok(remote)

    # 5. a pull killed mid-transfer into a fresh clone, then retried
    b = make_repo(tmp_path / "b")
    git(b, "remote", "add", "origin", f"ssh://relay.invalid{remote}")
    fresh = ledger_state(b)
    log.unlink()
    proc = start(["pull"], b, slow)
    wait_for_bytes(log, 200_000, proc)
    kill_group(proc)
    assert ledger_state(b) == fresh and fsck_ok(b)
    pulled = run_ledger("pull", cwd=b, env=relay_env())
    assert pulled.code == 0, pulled.err
    assert tree_of(b) == tree_of(a) and fsck_ok(b)
    assert Ledger(b).read_artifact(Ledger(a).list_runs("big")[0].id, "weights.bin") == \
        (tmp_path / "weights.bin").read_bytes()
