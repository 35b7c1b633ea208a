"""A real scoring server process on 127.0.0.1 for the tests: `ledger model serve` on port 0,
its address read from the line it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str


def start_server(args: list[str], cwd: Path, env: dict[str, str] | None = None,
                 timeout: float = 120) -> Server:
    """Start a server command that prints `… on http://HOST:PORT …` on stderr once it listens;
    wait for /ping to answer 200."""
    import httpx

    # module-scoped callers run before the per-test environment: name this worktree here
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen(args, cwd=cwd, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": path, **(env or {})})
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = re.search(r"http://[\d.]+:\d+", line)
    if not found:
        proc.kill()
        raise AssertionError(f"the server did not start: {line}{proc.stderr.read()}")
    url = found.group(0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ping").status_code == 200:
                return Server(proc, url)
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the server never answered /ping")


def stop_server(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The iris model, saved with a signature, served by two workers."""
    pytest.importorskip("sklearn")
    pytest.importorskip("httpx")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import ledger

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    folder = tmp_path_factory.mktemp("served") / "iris"
    model = LogisticRegression(max_iter=500).fit(X, y)
    ledger.sklearn.save_model(model, folder, input_example=X.head(2))
    server = start_server([sys.executable, "-m", "ledger.cli", "model", "serve", str(folder),
                           "--port", "0", "--workers", "2", "--max-body", "100000"],
                          cwd=folder.parent)
    yield server
    stop_server(server)
