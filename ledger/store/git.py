"""Running the real ``git`` binary: one place for its environment, errors, paths and the
``cat-file --batch`` protocol."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Union, runtime_checkable

from ledger.errors import NotARepositoryError, RegistryError

if TYPE_CHECKING:
    import subprocess


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


# variables that would point git at another repository, index or object store than the one
# named on its command line (git sets them for hooks, which may run the ledger)
REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
            "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE",
            "GIT_QUARANTINE_PATH")


def git_env(extra: Mapping[str, str] | None = None, *,
            interactive: bool = False) -> dict[str, str]:
    """The environment for git run on a repository it is named (``-C``, ``--git-dir``), as it
    is at this call: none of git's repository variables; no optional locks (read-only callers
    must never refresh the user's index); stable messages; no prompt unless ``interactive``."""
    env = {k: v for k, v in os.environ.items() if k not in REPO_ENV}
    env.update({"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    if not interactive:
        env["GIT_TERMINAL_PROMPT"] = "0"
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
    # a work tree is named with -C; a git dir itself with --git-dir, so that GIT_DIR in the
    # environment cannot point git elsewhere
    is_git_dir = (path / "HEAD").is_file() and (path / "objects").is_dir()
    cmd = ["git", f"--git-dir={path}"] if is_git_dir else ["git", "-C", str(path)]
    for key, value in (config or {}).items():
        cmd += ["-c", f"{key}={value}"]
    cmd += list(args)
    try:
        import subprocess  # here: commands that run no git start without it

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


@dataclass(frozen=True)
class BatchObject:
    """One object answered by ``git cat-file --batch``."""

    sha: str
    type: str  # blob, tree, commit, tag
    body: bytes


def cat_file_batch(repo: RepoLike, names: Sequence[str]) -> list[BatchObject | None]:
    """The objects ``names`` (ids, ``REF:PATH``, ...) in one ``git cat-file --batch``, in
    order; None where git has no such object (or the name cannot be asked for)."""
    usable = [n for n in names if n and "\n" not in n]
    stdin = "".join(f"{n}\n" for n in usable).encode("utf-8", "surrogateescape")
    out = run_git(repo, ["cat-file", "--batch"], stdin=stdin).stdout if usable else b""
    found: dict[str, BatchObject | None] = {}
    pos = 0
    for name in usable:
        eol = out.index(b"\n", pos)
        header = out[pos:eol].decode("utf-8", "surrogateescape").split(" ")
        pos = eol + 1
        if len(header) != 3 or header[1] in ("missing", "ambiguous"):
            found[name] = None  # "<name> missing": the size field is absent, nothing follows
            continue
        size = int(header[2])
        found[name] = BatchObject(header[0], header[1], out[pos:pos + size])
        pos += size + 1
    return [found.get(n) for n in names]
