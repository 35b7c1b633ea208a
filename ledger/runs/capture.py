"""What a run needs to be reproduced (P9): source, environment and input fingerprints.

Everything here reads; nothing writes to the user's repository. `git` runs with
GIT_OPTIONAL_LOCKS=0 so that `git status` does not refresh (rewrite) the user's index.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInputError
from ledger.store.gitdir import GitDir

_GIT_ENV = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
_SOURCE_TTL = 2.0  # seconds a process reuses its source capture (runs in a tight loop)
_source_cache: dict[str, tuple[float, dict[str, Any], bytes | None]] = {}


def _git(work_tree: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-C", str(work_tree), *args],
        capture_output=True,
        env=_GIT_ENV,
        check=False,
    )


def source(gitdir: GitDir, argv: list[str] | None = None) -> tuple[dict[str, Any], bytes | None]:
    """The source of a run: commit, branch, dirty flag, argv; and the dirty patch, if any."""
    info, patch = _tree_state(gitdir)
    info = dict(info)
    info["argv"] = list(sys.argv if argv is None else argv)
    return info, patch


def _tree_state(gitdir: GitDir) -> tuple[dict[str, Any], bytes | None]:
    key = str(gitdir.git_dir)
    hit = _source_cache.get(key)
    if hit and time.monotonic() - hit[0] < _SOURCE_TTL:
        return hit[1], hit[2]
    info: dict[str, Any] = {"commit": None, "branch": None, "dirty": False}
    patch: bytes | None = None
    if gitdir.work_tree is not None:
        status = _git(gitdir.work_tree, "status", "--porcelain=v2", "--branch", "-z",
                      "--untracked-files=no")
        if status.returncode == 0:
            entries = status.stdout.split(b"\0")
            for entry in entries:
                if entry.startswith(b"# branch.oid "):
                    oid = entry[len(b"# branch.oid "):].decode()
                    info["commit"] = None if oid == "(initial)" else oid
                elif entry.startswith(b"# branch.head "):
                    head = entry[len(b"# branch.head "):].decode()
                    info["branch"] = None if head == "(detached)" else head
                elif entry and not entry.startswith(b"#"):
                    info["dirty"] = True
            if info["dirty"]:
                base = info["commit"] or _empty_tree(gitdir.work_tree)
                diff = _git(gitdir.work_tree, "diff", "--binary", base)
                patch = diff.stdout if diff.returncode == 0 and diff.stdout else None
    _source_cache[key] = (time.monotonic(), info, patch)
    return info, patch


def seed_source(gitdir: GitDir, commit: str, patch: bytes | None) -> None:
    """Tell the source capture the state of a work tree its caller has just made (`ledger
    reproduce`: a detached checkout of ``commit`` with ``patch`` applied), sparing a `git
    status` that a fresh checkout makes hash every file (git's racy-clean check)."""
    info = {"commit": commit, "branch": None, "dirty": bool(patch)}
    _source_cache[str(gitdir.git_dir)] = (time.monotonic(), info, patch or None)


def _empty_tree(work_tree: Path) -> str:
    out = _git(work_tree, "hash-object", "-t", "tree", "/dev/null")
    return out.stdout.decode().strip() or "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def environment() -> dict[str, Any]:
    """Interpreter and machine facts, small enough for run.json."""
    uname = os.uname() if hasattr(os, "uname") else None
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": sys.platform,
        "machine": uname.machine if uname else "",
        "host": uname.nodename if uname else "",
    }


def packages(cache_dir: Path) -> bytes:
    """The installed distributions as canonical JSON, cached per interpreter and site state."""
    stamp = [sys.executable, sys.version]
    # sys.path[0] is the script's folder: it changes with every file written beside the
    # script and holds no installed distributions, so it is left out of the stamp
    for entry in sys.path[1:]:
        try:
            stamp.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            continue
    key = hashlib.sha1("\n".join(stamp).encode()).hexdigest()[:20]
    path = cache_dir / f"packages-{key}.json"
    try:
        return path.read_bytes()
    except OSError:
        pass
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name and name not in found:
            found[name] = dist.version
    data = (json.dumps(dict(sorted(found.items(), key=lambda kv: kv[0].lower())), indent=1)
            + "\n").encode()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache only
    return data


def input_fingerprint(path: str | os.PathLike[str], root: Path | None,
                      context: str | None = None) -> dict[str, Any]:
    """Path, digest and size of an input file or folder, for lineage."""
    target = Path(path)
    if not target.exists():
        raise InvalidInputError(f"input {str(path)!r} does not exist")
    resolved = target.resolve()
    shown = str(path)
    if root is not None:
        try:
            shown = resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = str(resolved)
    entry: dict[str, Any] = {"path": shown}
    if resolved.is_dir():
        outer = hashlib.sha256()
        size = count = 0
        for file in sorted(p for p in resolved.rglob("*") if p.is_file()):
            digest, n = _file_digest(file)
            outer.update(f"{file.relative_to(resolved).as_posix()}\0{digest}\n".encode())
            size += n
            count += 1
        entry.update(digest=f"sha256:{outer.hexdigest()}", size=size, files=count)
    else:
        digest, size = _file_digest(resolved)
        entry.update(digest=f"sha256:{digest}", size=size)
    if context:
        entry["context"] = context
    return entry


def _file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
