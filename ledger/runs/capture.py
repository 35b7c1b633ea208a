"""What a run needs to be reproduced (P9): source, environment and input fingerprints.

Everything here reads; nothing writes to the user's repository. `git` runs with
GIT_OPTIONAL_LOCKS=0 so that `git status` does not refresh (rewrite) the user's index.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInputError
from ledger.names import check_text
from ledger.runs import worktree
from ledger.store.files import user_cache_dir
from ledger.store.git import git_env
from ledger.store.gitdir import GitDir

if TYPE_CHECKING:
    import subprocess

# source states set by seed_source, each for the next capture of its repository
_seeded: dict[str, tuple[dict[str, Any], bytes | None]] = {}


def _git(gitdir: GitDir, *args: str, index: Path | None = None
         ) -> subprocess.CompletedProcess[bytes]:
    """git on exactly the repository the run lands in (never one named by the environment),
    read-only: no optional locks, and `index` (a private copy) instead of the user's index."""
    import subprocess  # here: a capture that needs no git starts without it

    assert gitdir.work_tree is not None
    return subprocess.run(
        ["git", "--git-dir", str(gitdir.git_dir), "--work-tree", str(gitdir.work_tree),
         "-C", str(gitdir.work_tree), *args],
        capture_output=True,
        env=git_env({"GIT_INDEX_FILE": str(index)} if index is not None else None),
        check=False,
    )


def source(gitdir: GitDir, argv: list[str] | None = None) -> tuple[dict[str, Any], bytes | None]:
    """The source of a run: commit, branch, dirty flag, argv; and the dirty patch, if any."""
    info, patch = _tree_state(gitdir)
    info = dict(info)
    # arguments are bytes to the system: undecodable ones are kept readable, escaped
    info["argv"] = [os.fsencode(a).decode("utf-8", "backslashreplace")
                    for a in (sys.argv if argv is None else argv)]
    return info, patch


def _tree_state(gitdir: GitDir) -> tuple[dict[str, Any], bytes | None]:
    """As git sees it when the run starts (P9). Without a git process when git's own stat
    data answers (runs/worktree.py): the state captured before, if nothing git looks at has
    changed since; a clean tree read from the index. Else `git status` (and `git diff`).
    (A cache keyed on time once recorded the previous commit, branch or patch for a run
    started just after a commit, an edit or a checkout.)"""
    seeded = _seeded.pop(str(gitdir.git_dir), None)
    if seeded is not None:
        return dict(seeded[0]), seeded[1]
    if gitdir.work_tree is None:
        return {"commit": None, "branch": None, "dirty": False}, None
    known = worktree.recall(gitdir)
    if known is not None:
        return known
    clean = worktree.clean_from_index(gitdir, partial(_commit_tree, gitdir))
    if clean is not None:
        return clean, None
    snap = worktree.snapshot(gitdir)
    status = _git(gitdir, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no")
    if status.returncode != 0:
        return {"commit": None, "branch": None, "dirty": False}, None
    info: dict[str, Any] = {"commit": None, "branch": None, "dirty": False}
    for entry in status.stdout.split(b"\0"):
        if entry.startswith(b"# branch.oid "):
            oid = entry[len(b"# branch.oid "):].decode("ascii", "replace")
            info["commit"] = None if oid == "(initial)" else oid
        elif entry.startswith(b"# branch.head "):
            head = entry[len(b"# branch.head "):].decode("utf-8", "replace")
            info["branch"] = None if head == "(detached)" else head
        elif entry and not entry.startswith(b"#"):
            info["dirty"] = True
    patch = _patch(gitdir, info["commit"] or _empty_tree(gitdir)) if info["dirty"] else None
    if patch is not None or not info["dirty"]:  # not a diff that failed
        worktree.keep(gitdir, snap, info, patch)
    return info, patch


def _commit_tree(gitdir: GitDir, commit: bytes) -> bytes | None:
    """The tree of a commit (None if it cannot be read here); remembered, as a commit's
    tree never changes (`git replace` is left to git before this is asked)."""
    tree = _commit_trees.get(commit)
    if tree is None:
        from ledger.store.reader import ObjectReader

        reader = ObjectReader(gitdir.objects_dir)
        try:
            kind, data = reader.get_raw(commit)
        except (KeyError, ValueError, OSError):
            return None
        finally:
            reader.close()
        first = data.split(b"\n", 1)[0]
        if kind != 1 or not first.startswith(b"tree "):
            return None
        tree = _commit_trees[commit] = first[5:]
    return tree


_commit_trees: dict[bytes, bytes] = {}  # commit -> its tree, as read


def seed_source(gitdir: GitDir, commit: str, patch: bytes | None) -> None:
    """Tell the source capture the state of a work tree its caller has just made (`ledger
    reproduce`: a detached checkout of ``commit`` with ``patch`` applied), sparing a `git
    status` that a fresh checkout makes hash every file (git's racy-clean check). The seed
    serves the next capture of that repository only; later ones read afresh."""
    info = {"commit": commit, "branch": None, "dirty": bool(patch)}
    _seeded[str(gitdir.git_dir)] = (info, patch or None)


def _patch(gitdir: GitDir, base: str) -> bytes | None:
    """`git diff --binary BASE` of the work tree. git refreshes (rewrites) the index it diffs
    with, even with GIT_OPTIONAL_LOCKS=0, so it is given a private copy of the user's index."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ledger-index-") as tmp:
        index = Path(tmp) / "index"
        try:
            shutil.copyfile(gitdir.git_dir / "index", index)
        except FileNotFoundError:
            pass  # no index yet: git diffs against an empty one
        except OSError:
            return None
        diff = _git(gitdir, "diff", "--binary", base, index=index)
    return diff.stdout if diff.returncode == 0 and diff.stdout else None


def _empty_tree(gitdir: GitDir) -> str:
    out = _git(gitdir, "hash-object", "-t", "tree", "/dev/null")
    return out.stdout.decode().strip() or "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def environment() -> dict[str, Any]:
    """Interpreter and machine facts, small enough for run.json."""
    uname = os.uname() if hasattr(os, "uname") else None
    return {
        "python": sys.version.split()[0],  # platform.python_version(), without platform
        "implementation": sys.implementation.name,
        "platform": sys.platform,
        "machine": uname.machine if uname else "",
        "host": uname.nodename if uname else "",
    }


def packages(cache_dir: Path | None = None) -> bytes:
    """The installed distributions as canonical JSON.

    Cached in the user's cache folder (not per repository: a new repository starts fast),
    keyed by the interpreter and the modification times of the folders on sys.path, which
    change when a distribution is installed, upgraded or removed there.
    """
    if cache_dir is None:
        cache_dir = user_cache_dir()
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
    entry: dict[str, Any] = {"path": check_text(shown, "input path")}
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
