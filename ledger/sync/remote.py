"""Talk to git remotes through the real `git` binary: list, fetch and push refs.

Driving git itself brings every transport git users have (a path, file://, git://, ssh://,
http(s)://) with their credential helpers, `insteadOf` rules and ssh configuration. Only the
ledger's refs move: fetches write FETCH_HEAD never and only the refspecs given; pushes never
run the pre-push hook (which calls the ledger: no recursion), never force, and report each
ref's fate in git's machine-readable form.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import selectors
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import SyncError
from ledger.store.git import git_env
from ledger.store.gitdir import GitDir
from ledger.store.packs import Packs

TIMEOUT_ENV = "LEDGER_SYNC_TIMEOUT"
FETCH_TRIES = 5
DEFAULT_TIMEOUT = 120.0  # seconds without any sign of life from git: a hung remote must not
# hang us forever, but a long transfer that keeps reporting progress is never cut short
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/:]+@[^/:]+:|^[A-Za-z0-9.-]+:[^/]")


@dataclass(frozen=True)
class Remote:
    """A remote as given to git (a configured name, a URL or a path), and its local label:
    the folder of `refs/ledger/remotes/` that keeps what was last fetched from it."""

    name: str
    label: str


@dataclass(frozen=True)
class PushedRef:
    """One line of `git push --porcelain`: what happened to one ref."""

    flag: str  # ' ' fast-forward, '*' new, '=' up to date, '!' rejected, ...
    dst: str
    summary: str
    reason: str

    @property
    def ok(self) -> bool:
        return self.flag != "!"

    @property
    def lost_race(self) -> bool:
        """Rejected because the remote moved (someone pushed first): fetch, merge, retry."""
        if self.ok:
            return False
        text = f"{self.summary} {self.reason}"
        return any(word in text for word in (
            "fetch first", "non-fast-forward", "cannot lock ref", "failed to lock",
            "failed to update ref", "incorrect old value", "stale info", "but expected"))


class Git:
    """The `git` binary, run on one repository for transfers with remotes."""

    def __init__(self, gitdir: GitDir, *, interactive: bool = False,
                 timeout: float | None = None) -> None:
        self.gitdir = gitdir
        self.cwd = gitdir.work_tree or gitdir.git_dir
        self.interactive = interactive
        self.timeout = timeout if timeout is not None else _timeout_from_env()

    def env(self) -> dict[str, str]:
        return git_env(interactive=self.interactive)

    def run(self, args: Sequence[str], what: str, *, input: bytes | None = None,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = ["git", "-C", str(self.cwd), *args]
        try:
            proc = run_watched(cmd, self.env(), input, self.timeout)
        except TimeoutError:
            raise SyncError(f"{what}: no answer for {self.timeout:g} s (set {TIMEOUT_ENV} to "
                            "wait longer); the local ledger is intact") from None
        except FileNotFoundError:
            raise SyncError("git is not installed or not on PATH") from None
        if check and proc.returncode != 0:
            raise SyncError(f"{what}: {git_message(proc.stderr)}")
        return proc

    # -- remotes ------------------------------------------------------------------------------
    def resolve(self, remote: str, base: Path | None = None) -> Remote:
        """A configured remote name, a URL, or a path (relative to `base`, default cwd)."""
        if not remote or remote.startswith("-") or "\n" in remote or "\0" in remote:
            raise SyncError(f"invalid remote {remote!r}")
        configured = self.run(["remote"], "git remote").stdout.decode().split()
        if remote in configured:
            return Remote(remote, remote)
        if _URL_RE.match(remote):
            return Remote(remote, _label(remote))
        path = Path(base or os.getcwd()) / remote
        if path.exists():
            resolved = str(path.resolve())
            return Remote(resolved, _label(resolved))
        raise SyncError(
            f"no remote {remote!r}: not a configured remote (see `git remote -v`), "
            "nor a URL, nor an existing path"
        )

    def ls_remote(self, remote: Remote, patterns: Iterable[str]) -> dict[str, bytes]:
        """The remote's refs matching `patterns`: name -> object id (tags not peeled)."""
        proc = self.run(["ls-remote", "--refs", remote.name, *patterns],
                        f"cannot reach remote {remote.name!r}")
        found: dict[str, bytes] = {}
        for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
            sha, _, name = line.partition("\t")
            if len(sha) == 40 and name:
                found[name] = sha.encode()
        return found

    def fetch(self, remote: Remote, refspecs: Sequence[str]) -> None:
        """Fetch exactly `refspecs`: no FETCH_HEAD, no tags followed, no submodules."""
        if not refspecs:
            return
        # fetched objects always land in one pack (not as loose files), which the ledger
        # then counts as its own and consolidates like the packs it writes
        args = ["-c", "fetch.unpackLimit=1", "fetch", "--progress", "--no-write-fetch-head",
                "--no-tags",
                "--recurse-submodules=no", "--no-auto-maintenance", "--stdin", remote.name]
        specs = "".join(f"{spec}\n" for spec in refspecs).encode()
        what = f"cannot fetch from {remote.name!r}"
        packs = Packs(self.gitdir.objects_dir)
        before = packs.present()
        for attempt in range(FETCH_TRIES):
            proc = self.run(args, what, input=specs, check=False)
            if proc.returncode == 0:
                packs.adopt_new(before)
                return
            message = git_message(proc.stderr)
            # another ledger command of this clone is fetching the same refs right now
            if "cannot lock ref" not in message or attempt == FETCH_TRIES - 1:
                raise SyncError(f"{what}: {message}")
            time.sleep(random.uniform(0.05, 0.2))

    def push(self, remote: Remote, refspecs: Sequence[str]) -> list[PushedRef]:
        """Push `refspecs` without force and without hooks; the fate of each ref."""
        proc = self.run(["push", "--porcelain", "--progress", "--no-verify", "--no-follow-tags",
                         "--recurse-submodules=no", remote.name, *refspecs],
                        f"cannot push to {remote.name!r}", check=False)
        pushed = parse_porcelain(proc.stdout.decode("utf-8", "surrogateescape"))
        if proc.returncode != 0 and not pushed:
            raise SyncError(f"cannot push to {remote.name!r}: {git_message(proc.stderr)}")
        return pushed


def run_watched(cmd: Sequence[str], env: dict[str, str], input: bytes | None,
                idle: float) -> subprocess.CompletedProcess[bytes]:
    """Run a command to its end, unless it shows no sign of life (no output at all) for
    `idle` seconds: then kill it and raise TimeoutError. Transfers ask git for progress, so
    a long but healthy transfer keeps talking and is never cut short."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = bytearray(), bytearray()
    try:
        if input is not None and proc.stdin is not None:
            try:
                proc.stdin.write(input)  # git reads all its --stdin refspecs before it talks
            except BrokenPipeError:
                pass
            finally:
                proc.stdin.close()
        with selectors.DefaultSelector() as watch:
            watch.register(proc.stdout, selectors.EVENT_READ, out)  # type: ignore[arg-type]
            watch.register(proc.stderr, selectors.EVENT_READ, err)  # type: ignore[arg-type]
            while watch.get_map():
                ready = watch.select(timeout=idle)
                if not ready:
                    raise TimeoutError
                for key, _events in ready:
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        key.data.extend(chunk)
                    else:
                        watch.unregister(key.fileobj)
        code = proc.wait(timeout=idle)
    except subprocess.TimeoutExpired:
        raise TimeoutError from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return subprocess.CompletedProcess(list(cmd), code, bytes(out), bytes(err))


def parse_porcelain(text: str) -> list[PushedRef]:
    """`<flag>\\t<src>:<dst>\\t<summary> (<reason>)` lines of `git push --porcelain`."""
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or len(parts[0]) != 1:
            continue
        flag, refs, rest = parts
        summary, _, reason = rest.partition(" (")
        out.append(PushedRef(flag, refs.rpartition(":")[2], summary, reason.rstrip(")")))
    return out


def git_message(stderr: bytes) -> str:
    """The telling line of git's stderr (its first `fatal:`/`error:`), on one line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                text = line[len(prefix):]
                if text.endswith(":") and i + 1 < len(lines):
                    text += " " + lines[i + 1]
                return text
    return lines[-1] if lines else "git failed"


def _label(url: str) -> str:
    """A ref-safe, readable and unique folder name for a remote given by URL or path."""
    tail = re.sub(r"[^A-Za-z0-9_-]+", "-", url.rstrip("/").rsplit("/", 1)[-1]).strip("-")
    digest = hashlib.sha1(url.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{tail[:40] or 'remote'}-{digest}"


def _timeout_from_env() -> float:
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise SyncError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds") from None
    if value <= 0:
        raise SyncError(f"{TIMEOUT_ENV}={text!r}: give a positive number of seconds")
    return value
