"""`ledger init`: ready a repository (idempotent), optionally installing the git hooks."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ledger.api import Ledger
from ledger.runs.store import RUNS_REF
from ledger.store import trees

HOOKS = ("pre-push",)
HOOK_MARK = b"# ledger:"
_HOOK_SOURCE = Path(__file__).parent


def init(lg: Ledger, hooks: bool = False) -> list[str]:
    """Create `.git/ledger/` and the runs ref; with `hooks`, install the git hooks."""
    done = []
    for folder in (lg.journal_dir, lg.cache_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if lg.store.head() is None:
        _first_commit(lg)
        done.append(f"created {RUNS_REF.decode()}")
    else:
        done.append(f"{RUNS_REF.decode()} exists")
    if hooks:
        done.extend(install_hooks(lg))
    return done


def _first_commit(lg: Ledger) -> None:
    store = lg.store

    def build(old: bytes | None) -> bytes | None:
        if old is not None:
            return None
        out: list = []
        root = trees.build({}, out)
        out.append(store._commit_object(root, None, ["ledger initialized"]))
        store.objects.add(out)
        return out[-1].id

    store.refs.update(RUNS_REF, build)


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


def install_hooks(lg: Ledger) -> list[str]:
    """Install our hooks; an existing foreign hook is kept as `<name>.local` and chained."""
    target_dir = hooks_dir(lg)
    target_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for name in HOOKS:
        target = target_dir / name
        source = (_HOOK_SOURCE / name).read_bytes()
        if target.exists():
            current = target.read_bytes()
            if current == source:
                done.append(f"hook {name} already installed")
                continue
            if HOOK_MARK not in current:
                local = target_dir / f"{name}.local"
                if local.exists():
                    done.append(f"hook {name}: {local.name} exists already; left both alone")
                    continue
                shutil.move(str(target), str(local))
                done.append(f"kept your {name} hook as {local.name}; it still runs first")
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_bytes(source)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, target)
        done.append(f"installed hook {name}")
    return done

