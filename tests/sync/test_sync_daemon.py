"""Four clones log and `ledger sync` at once, again and again, through `git daemon` on
127.0.0.1: the remote ends with every run, and its ledger ref only ever fast-forwarded."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.api import Ledger
from tests.conftest import free_port, git, run_ledger, start_server, stop_server
from tests.sync.sharing import bare_remote, clone_of, ref_of, tree_of

CLONES, ROUNDS, RUNS_PER_ROUND = 4, 3, 2

WORKER = """
import subprocess, sys
from ledger.api import Ledger
lg = Ledger(".")
for r in range(int(sys.argv[1])):
    for i in range(int(sys.argv[2])):
        lg.log_run("w", params={"round": r, "i": i}, metrics=[("acc", r + i / 10, r)])
    done = subprocess.run([sys.executable, "-m", "ledger.cli", "sync"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"sync failed: {done.stderr}")
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    base = tmp_path / "served"
    remote = bare_remote(base / "remote.git")
    git(remote, "config", "core.logAllRefUpdates", "always")
    port = free_port()
    server = start_server(
        ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
         f"--base-path={base}", "--export-all", "--enable=receive-pack", "--timeout=60",
         "--informative-errors", str(base)], port=port, timeout=10)
    try:
        yield f"git://127.0.0.1:{port}/remote.git", remote
    finally:
        stop_server(server)


def test_concurrent_syncs_through_git_daemon(daemon: tuple[str, Path], tmp_path: Path) -> None:
    url, remote = daemon
    clones = [clone_of(remote, tmp_path / f"clone{i}") for i in range(CLONES)]
    for clone in clones:
        git(clone, "remote", "set-url", "origin", url)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(ROUNDS), str(RUNS_PER_ROUND)],
                                cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for clone in clones]
    for w in workers:
        _out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    for clone in clones:  # one more round each, so every clone has seen every other
        assert run_ledger("sync", cwd=clone).code == 0
    for clone in clones[:-1]:
        assert run_ledger("pull", cwd=clone).code == 0

    assert len({tree_of(c) for c in clones} | {tree_of(remote)}) == 1
    assert len({ref_of(c) for c in clones} | {ref_of(remote)}) == 1
    runs = Ledger(remote).list_runs()
    assert len(runs) == CLONES * ROUNDS * RUNS_PER_ROUND
    assert {r.params["round"] for r in runs} == {str(r) for r in range(ROUNDS)}

    # every update of the remote's ledger ref was a fast-forward
    entries = (remote / "logs" / "refs" / "ledger" / "runs").read_text().splitlines()
    assert len(entries) >= CLONES * ROUNDS
    for entry in entries:
        old, new = entry.split()[:2]
        if set(old) != {"0"}:
            assert git(remote, "merge-base", "--is-ancestor", old, new,
                       check=False).returncode == 0, entry
