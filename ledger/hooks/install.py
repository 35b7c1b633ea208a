"""`ledger init`: ready a repository (idempotent), optionally installing the git hooks.

Returns what it did as data; the CLI words it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ledger.api import Ledger
from ledger.store.files import write_atomic

HOOKS = ("pre-push",)
HOOK_MARK = b"# ledger:"
_HOOK_SOURCE = Path(__file__).parent  # shipped as package data beside this module

HookAction = Literal["installed", "unchanged", "chained", "left-alone"]


@dataclass(frozen=True)
class HookResult:
    """What happened to one hook. `chained`: the user's own hook was kept as `local` and still
    runs first; `left-alone`: both a foreign hook and `local` exist, so nothing was touched."""

    name: str
    action: HookAction
    path: Path
    local: Path | None = None


@dataclass(frozen=True)
class InitResult:
    created: bool  # the runs ref was created now (else it existed)
    hooks: list[HookResult] = field(default_factory=list)


def init(lg: Ledger, hooks: bool = False) -> InitResult:
    """Create `.git/ledger/` and the runs ref; with `hooks`, install the git hooks."""
    for folder in (lg.journal_dir, lg.cache_dir):
        folder.mkdir(parents=True, exist_ok=True)
    created = lg.store.init()
    return InitResult(created, install_hooks(lg) if hooks else [])


def hooks_dir(lg: Ledger) -> Path:
    """Where git looks for hooks: core.hooksPath if set, else .git/hooks."""
    from dulwich.config import ConfigFile

    try:
        config = ConfigFile.from_path(str(lg.gitdir.common_dir / "config"))
        configured = config.get((b"core",), b"hooksPath").decode()
    except (KeyError, OSError):
        return lg.gitdir.common_dir / "hooks"
    path = Path(os.path.expanduser(configured))
    return path if path.is_absolute() else (lg.gitdir.work_tree or lg.gitdir.git_dir) / path


def install_hooks(lg: Ledger) -> list[HookResult]:
    """Install our hooks; an existing foreign hook is kept as `<name>.local` and chained."""
    target_dir = hooks_dir(lg)
    target_dir.mkdir(parents=True, exist_ok=True)
    return [_install(target_dir, name) for name in HOOKS]


def _install(target_dir: Path, name: str) -> HookResult:
    target = target_dir / name
    source = (_HOOK_SOURCE / name).read_bytes()
    local: Path | None = None
    if target.exists():
        current = target.read_bytes()
        if current == source:
            return HookResult(name, "unchanged", target)
        if HOOK_MARK not in current:
            local = target_dir / f"{name}.local"
            if local.exists():
                return HookResult(name, "left-alone", target, local)
            shutil.move(str(target), str(local))
    write_atomic(target, source, executable=True)
    return HookResult(name, "chained" if local else "installed", target, local)
