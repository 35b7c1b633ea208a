"""Running the real ``git`` binary for the registry: one place for env, errors and paths."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, Union, runtime_checkable

from ledger.errors import NotARepositoryError, RegistryError


@runtime_checkable
class HasPath(Protocol):
    """Anything that knows its repository folder, e.g. an open ``Ledger``."""

    @property
    def path(self) -> Path: ...


RepoLike = Union[str, "os.PathLike[str]", HasPath]


def repo_path(repo: RepoLike) -> Path:
    """The folder to run git in, for a path or an open handle."""
    if isinstance(repo, HasPath):
        return Path(repo.path)
    return Path(os.fspath(repo))


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Read-only callers must never refresh the user's index; never prompt; stable messages.
    env.update({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    if extra:
        env.update(extra)
    return env


def run_git(
    repo: RepoLike,
    args: Sequence[str],
    *,
    config: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git -C REPO [-c K=V]... ARGS``; a failure raises :class:`RegistryError`."""
    path = repo_path(repo)
    if not path.is_dir():
        raise NotARepositoryError(f"not a git repository: {path} (no such folder)")
    cmd = ["git", "-C", str(path)]
    for key, value in (config or {}).items():
        cmd += ["-c", f"{key}={value}"]
    cmd += list(args)
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, env=git_env(), check=False)
    except FileNotFoundError as exc:  # pragma: no cover - git is a hard requirement
        raise RegistryError("git is not installed or not on PATH") from exc
    if check and proc.returncode != 0:
        message = first_line(proc.stderr) or f"exit code {proc.returncode}"
        if "not a git repository" in message:
            raise NotARepositoryError(f"not a git repository: {path}")
        raise RegistryError(f"git {args[0]} failed: {message}")
    return proc


def first_line(data: bytes) -> str:
    """The first non-empty line of git's stderr, for one-line error messages."""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""
