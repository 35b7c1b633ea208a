"""Find the git repository a command works on, without touching HEAD, index or work tree."""

from __future__ import annotations

import os
import re
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
    """The repository containing `path` (default: `LEDGER_REPO`, else `GIT_DIR` and
    `GIT_WORK_TREE` as git reads them, else the current folder)."""
    found = _find(path)
    _check_format(found.common_dir)
    return found


def _check_format(common_dir: Path) -> None:
    """Refuse what the ledger cannot write correctly, before anything is written."""
    try:
        config = (common_dir / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    if _OBJECT_FORMAT.search(config):
        raise NotARepositoryError(
            f"{common_dir} uses SHA-256 object names (git init --object-format=sha256), which "
            "the ledger does not support yet; use a SHA-1 repository")


_OBJECT_FORMAT = re.compile(r"^\s*objectformat\s*=\s*\"?sha256", re.IGNORECASE | re.MULTILINE)


def _find(path: str | os.PathLike[str] | None) -> GitDir:
    if path is None and not os.environ.get("LEDGER_REPO") and os.environ.get("GIT_DIR"):
        return _from_env(os.environ["GIT_DIR"], os.environ.get("GIT_WORK_TREE"))
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


def _from_env(git_dir_text: str, work_tree_text: str | None) -> GitDir:
    """GIT_DIR (and GIT_WORK_TREE), as git reads them: without GIT_WORK_TREE, the work tree
    is the current folder unless the repository is bare."""
    git_dir = _resolve_dotgit(Path(git_dir_text).resolve())
    if not (_is_git_dir(git_dir) or (git_dir / "commondir").is_file()):
        raise NotARepositoryError(f"not a git repository: GIT_DIR={git_dir_text}")
    if work_tree_text:
        work_tree: Path | None = Path(work_tree_text).resolve()
    else:
        config = ""
        try:
            config = (git_dir / "config").read_text(encoding="utf-8", errors="replace")
        except OSError:
            pass
        bare = re.search(r"^\s*bare\s*=\s*true", config, re.IGNORECASE | re.MULTILINE)
        work_tree = None if bare else Path.cwd()
    return GitDir(git_dir, _common_dir(git_dir), work_tree)
