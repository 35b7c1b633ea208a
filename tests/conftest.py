"""Fixtures: real git repositories in tmp_path, an isolated HOME and git config, and a runner
for the real `ledger` command in a separate process."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str, check: bool = True, text: bool = True,
        **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=text,
                          check=check, **kw)


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Alice Tester\n\temail = alice@example.com\n"
                      "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("LEDGER_USER", "alice")
    for var in ("LEDGER_RUN_ID", "LEDGER_REPO", "LEDGER_EXPERIMENT", "GIT_DIR", "GIT_WORK_TREE",
                "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "GIT_INDEX_FILE", "GNUPGHOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return home


def make_repo(path: Path, commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    if commit:
        (path / "train.py").write_text("print('train')\n")
        git(path, "add", "train.py")
        git(path, "commit", "-qm", "initial")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def empty_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "empty", commit=False)


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_ledger(*args: str, cwd: Path, env: dict[str, str] | None = None,
               input: str | None = None, timeout: float = 120) -> Result:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "ledger.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=full_env, input=input,
                          timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def ledger_cli(repo: Path) -> Callable[..., Result]:
    def call(*args: str, cwd: Path | None = None, **kw) -> Result:
        return run_ledger(*args, cwd=cwd or repo, **kw)

    return call


def user_state(repo: Path) -> dict[str, object]:
    """Everything of the user's that the ledger must never touch (SPEC §1)."""
    gitdir = repo / ".git"
    files = {}
    for p in sorted(repo.rglob("*")):
        if ".git" in p.relative_to(repo).parts or not p.is_file():
            continue
        files[str(p.relative_to(repo))] = hashlib.sha1(p.read_bytes()).hexdigest()
    index = gitdir / "index"
    return {
        "HEAD": (gitdir / "HEAD").read_text(),
        "head_commit": git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).stdout,
        "branches": git(repo, "for-each-ref", "refs/heads").stdout,
        "status": git(repo, "status", "--porcelain=v1", "-uall",
                      env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout,
        "index": (index.read_bytes(), index.stat().st_mtime_ns) if index.exists() else None,
        "files": files,
        "log": git(repo, "log", "--oneline", "--branches", check=False).stdout,
    }


def ledger_state(repo: Path) -> dict[str, object]:
    """The ledger refs and journals, byte for byte."""
    refs = git(repo, "for-each-ref", "refs/ledger", "refs/tags").stdout
    jdir = repo / ".git" / "ledger" / "journal"
    journals = {p.name: p.read_bytes() for p in sorted(jdir.glob("*"))} if jdir.exists() else {}
    return {"refs": refs, "journals": journals}


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a process started with ``start_new_session=True`` and all it started, and wait
    until every one of them is gone (a child reparented to init dies a moment later, and a
    journal's owner that still exists counts as alive)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"process group {proc.pid} still alive after SIGKILL")


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (for servers that cannot take port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server in its own process on 127.0.0.1."""

    proc: subprocess.Popen[str]
    url: str  # http://127.0.0.1:PORT

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def start_server(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
                 *, port: int | None = None, ready_path: str | None = None,
                 timeout: float = 120) -> Server:
    """Start a server process on 127.0.0.1 and wait until it accepts connections (and, with
    `ready_path`, until GET `ready_path` answers 200).

    With `port` the caller chose the port, and the server's output is dropped; without it the
    server chose one and says `… http://127.0.0.1:PORT …` in the first line it writes to stderr.
    `env` is the whole environment (default: this process's); this worktree comes first on
    PYTHONPATH, as module- and session-scoped callers run before the per-test environment."""
    base = os.environ if env is None else env
    full_env = {**base, "PYTHONPATH": os.pathsep.join([str(ROOT), base.get("PYTHONPATH", "")])}
    quiet = subprocess.DEVNULL if port is not None else None
    proc = subprocess.Popen(args, cwd=cwd, env=full_env, text=True, stdout=quiet,
                            stderr=quiet or subprocess.PIPE)
    if port is None:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not found:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{args} did not start: {line}{proc.stderr.read()}")
        server = Server(proc, found.group(0))
    else:
        server = Server(proc, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while not _answers(server, ready_path):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise AssertionError(f"{args} never answered on {server.url}")
        time.sleep(0.05)
    return server


def _answers(server: Server, path: str | None) -> bool:
    try:
        if path is None:
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
            return True
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            conn.request("GET", path)
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


def stop_server(server: Server) -> None:
    """SIGTERM, and SIGKILL if it has not stopped within 30 s."""
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    if server.proc.stderr is not None:
        server.proc.stderr.close()
