"""Model packages: a git commit whose tree is a model folder, built from a run's artifacts.

The tree of the commit that a version tag ``NAME@vX.Y.Z`` points to is the model folder:

* ``--path P`` a folder (below the run's ``artifacts/``): the folder's contents at the root;
* ``--path P`` a file: that file at the root, under its own name;
* no path: every artifact of the run, as laid out under ``artifacts/``;

plus the manifest ``ledger-model.json`` (``schemas/model.schema.json``). The artifact blobs and
trees are the ones already stored for the run: only the manifest blob, the root tree and the
commit are new objects, so no artifact byte is copied. ``git commit-tree`` makes the commit, so
its author and date follow the user's git setup as the tag's do.

The commit has no parent and no ref of its own: each version is self-contained, reachable only
from its tag, and pushing one tag ships that one package (a parent chain would drag every
earlier version along with it).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInputError, LedgerError, RunNotFoundError
from ledger.runs.record import float_to_json
from ledger.runs.run import Run
from ledger.runs.store import ARTIFACTS_DIR, RunStore
from ledger.storage.offload import describe, write_stored
from ledger.store import stream, trees
from ledger.store.git import run_git
from ledger.store.gitdir import GitDir
from ledger.store.identity import fallback_config
from ledger.store.objects import FILE_MODE, ObjectStore, Written, blob

MANIFEST = "ledger-model.json"
FORMAT = "ledger-model"
FORMAT_VERSION = 1
_EXEC_MODE = 0o100755


@dataclass(frozen=True)
class Package:
    """A model package written to the object store (not yet reachable from any ref)."""

    commit: str
    tree: str
    manifest: dict[str, Any]
    manifest_digest: str  # "sha256:<hex>" of the manifest file's bytes


def build_package(store: RunStore, run: Run, name: str, version: str,
                  path: str | None) -> Package:
    """Write the package of ``run``'s artifacts under ``path`` (None: all) as a commit."""
    root = store.root(store.head())
    folder = store.folder_tree(root, run.id)
    if folder is None:
        raise RunNotFoundError(f"run {run.id} has nothing committed yet; end it or flush it first")
    wanted = f"{ARTIFACTS_DIR}/{path}" if path else ARTIFACTS_DIR
    entry = store.objects.lookup(folder, wanted)
    if entry is None:
        what = f"no artifact {path!r}" if path else "no artifacts"
        raise InvalidInputError(f"run {run.id} has {what}: nothing to register")
    mode, sha = entry
    if stat.S_ISDIR(mode):
        files = list(store.objects.walk_files(sha))
        base: bytes | None = sha
    else:
        files = [(wanted.rsplit("/", 1)[-1], mode, sha)]
        base = None
    if not files:
        raise InvalidInputError(f"run {run.id}: {path or 'artifacts'} is empty")
    if any(p == MANIFEST for p, _, _ in files):
        raise InvalidInputError(
            f"run {run.id}: an artifact is named {MANIFEST}, which the package reserves for "
            "its manifest; register a folder below it with --path"
        )
    manifest = _manifest(store.objects, run, name, version, path, files)
    data = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    manifest_blob = blob(data)
    out: list[Written] = [manifest_blob]
    changes = {MANIFEST: (FILE_MODE, manifest_blob.id)}
    if base is not None:
        tree = trees.edit(store.objects, base, changes, out)
    else:
        tree = trees.build({files[0][0]: (files[0][1], files[0][2]), **changes}, out)
    assert tree is not None  # the manifest alone makes it non-empty
    store.objects.add(out)
    commit = _commit(store, tree, f"ledger model {name} {version} from run {run.id}")
    return Package(commit, tree.decode(), manifest, "sha256:" + hashlib.sha256(data).hexdigest())


def _manifest(objects: ObjectStore, run: Run, name: str, version: str, path: str | None,
              files: list[tuple[str, int, bytes]]) -> dict[str, Any]:
    listed = []
    for rel, _mode, sha in sorted(files):
        data = objects.blob_bytes(sha)
        size, digest = describe(data) or (len(data), hashlib.sha256(data).hexdigest())
        listed.append({"path": rel, "size": size, "git_sha1": sha.decode(), "sha256": digest})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "run_id": run.id,
        "experiment": run.info.experiment,
        "run_name": run.info.run_name,
        "source_commit": run.source.get("commit"),
        "artifact_path": path,
        "metrics": {k: float_to_json(v) for k, v in sorted(run.metrics.items())},
        "params": dict(sorted(run.params.items())),
        "files": listed,
    }


def _commit(store: RunStore, tree: bytes, message: str) -> str:
    # git itself makes the commit, so that its author, committer and date follow the user's
    # git setup (user.name, GIT_COMMITTER_DATE, ...) exactly as the tag on it will
    where = store.gitdir.work_tree or store.gitdir.git_dir
    args = ["commit-tree", "--no-gpg-sign", "-m", message, tree.decode()]
    return run_git(where, args, config=fallback_config(store.gitdir)).stdout.decode().strip()


# -- export ------------------------------------------------------------------------------------
def package_files(objects: ObjectStore, commit: str) -> list[tuple[str, int, bytes]]:
    """Every (path, mode, blob sha) of a package, checked to stay inside its folder (P8)."""
    return tree_files(objects, objects.commit(commit.encode()).tree, f"package {commit[:12]}")


def tree_files(objects: ObjectStore, tree: bytes, label: str) -> list[tuple[str, int, bytes]]:
    """Every (path, mode, blob sha) below a tree, checked to stay inside its folder (P8)."""
    found = []
    for path, mode, sha in objects.walk_files(tree):
        parts = path.split("/")
        if any(p in ("", ".", "..", ".git") or "\\" in p or any(ord(c) < 32 for c in p)
               for p in parts) or not _utf8(path):
            raise LedgerError(f"{label} holds an unsafe path "
                              f"{path.encode('utf-8', 'replace')!r}; refusing it")
        if not stat.S_ISREG(mode):
            raise LedgerError(
                f"{label} holds {path!r} of mode {mode:o} (a symlink or "
                "submodule); only plain files are exported"
            )
        found.append((path, mode, sha))
    return found


def export_package(objects: ObjectStore, commit: str, dst: str | os.PathLike[str],
                   gitdir: GitDir | None = None) -> Path:
    """Write the package's files below ``dst``, byte for byte, as ``git archive`` would.

    A new ``dst`` appears whole (built beside it, then renamed); into an existing folder each
    file is replaced atomically. Files kept in the store of large files (a pointer in git)
    are fetched from the store of ``gitdir``'s repository and verified.
    """
    return export_files(objects, package_files(objects, commit), dst, gitdir)


def export_files(objects: ObjectStore, files: list[tuple[str, int, bytes]],
                 dst: str | os.PathLike[str], gitdir: GitDir | None = None) -> Path:
    """Write ``files`` (from :func:`tree_files`) below ``dst`` as :func:`export_package` does."""
    out = Path(dst)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"{out} exists and is not a folder")
    fresh = not out.exists()
    target = out.with_name(f".{out.name}.{os.urandom(4).hex()}.tmp") if fresh else out
    target.mkdir(parents=True, exist_ok=not fresh)
    try:
        stream.write_files(objects.path.parent,
                           [(target / rel, sha, mode == _EXEC_MODE) for rel, mode, sha in files],
                           partial(write_stored, gitdir))  # files kept in a store: fetched
        if fresh:
            os.rename(target, out)
    except BaseException:
        if fresh:
            _remove_tree(target)
        raise
    return out


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
