"""Find the git repository a command works on, without touching HEAD, index or work tree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import NotARepositoryError


@dataclass(frozen=True)
class GitDir:
    """Where a repository keeps things: its git dir, common dir and (maybe) work tree."""

    git_dir: Path  # the per-worktree git dir (HEAD, index)
    common_dir: Path  # objects, refs, config: shared by all worktrees
    work_tree: Path | None  # None for a bare repository

    @property
    def ledger_dir(self) -> Path:
        """Local working state of the ledger: journals, caches, locks, logs."""
        return self.common_dir / "ledger"

    @property
    def objects_dir(self) -> Path:
        return self.common_dir / "objects"


def _is_git_dir(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _resolve_dotgit(dotgit: Path) -> Path:
    if dotgit.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dotgit.read_text(encoding="utf-8").strip()
        if not text.startswith("gitdir:"):
            raise NotARepositoryError(f"{dotgit} is not a git link file")
        target = Path(text[len("gitdir:"):].strip())
        return target if target.is_absolute() else (dotgit.parent / target).resolve()
    return dotgit


def _common_dir(git_dir: Path) -> Path:
    link = git_dir / "commondir"
    if link.is_file():
        target = Path(link.read_text(encoding="utf-8").strip())
        return target if target.is_absolute() else (git_dir / target).resolve()
    return git_dir


def find(path: str | os.PathLike[str] | None = None) -> GitDir:
    """The repository containing `path` (default: `LEDGER_REPO`, else the current folder)."""
    start = Path(path if path is not None else os.environ.get("LEDGER_REPO") or os.getcwd())
    try:
        start = start.resolve(strict=True)
    except OSError:
        raise NotARepositoryError(f"not a git repository: {start} does not exist") from None
    for folder in (start, *start.parents):
        dotgit = folder / ".git"
        if dotgit.exists():
            git_dir = _resolve_dotgit(dotgit)
            if _is_git_dir(git_dir) or (git_dir / "commondir").is_file():
                return GitDir(git_dir, _common_dir(git_dir), folder)
        if _is_git_dir(folder) and folder.name != ".git":
            return GitDir(folder, _common_dir(folder), None)  # a bare repository
        if folder.name == ".git" and _is_git_dir(folder):
            return GitDir(folder, _common_dir(folder), folder.parent)
    raise NotARepositoryError(
        f"not a git repository: {start} (run inside a git repository, or pass --repo PATH)"
    )
