"""Model URIs to local folders.

* ``runs:/<run id or prefix>/<path>``: a folder below a run's artifacts;
* ``models:/NAME@vX.Y.Z``, ``models:/NAME@latest``, ``models:/NAME#STAGE``, MLflow's
  ``models:/NAME@ALIAS`` (an alias is a stage) and ``models:/NAME/STAGE``: a registry version;
* anything else: a folder path (``file://`` accepted).

A model that lives in git is written once to ``.git/ledger/models/<tree id>/`` and reused; the
copy is checked against its tree (git blob ids) each time it is handed out, and rewritten if a
file was changed or lost.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInputError, ModelError, RunNotFoundError

if TYPE_CHECKING:
    from ledger.api import Ledger

RepoArg = Any  # a path, an open Ledger or None (ledger.api.RepoArg)
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Located:
    """Where a model URI points: a local folder, and what it came from."""

    folder: Path
    uri: str
    run_id: str | None = None
    name: str | None = None  # registered model name
    version: str | None = None  # registered version, e.g. v1.2.0


def registry_ref(uri: str) -> str:
    """``models:/…`` to the registry's own reference (``NAME@vX.Y.Z``, ``@latest``,
    ``#STAGE``)."""
    body = uri[len("models:/"):]
    if not body or body.startswith("m-"):
        raise InvalidInputError(f"{uri!r}: expected models:/NAME@vX.Y.Z, @latest, #STAGE or "
                                "@ALIAS")
    if "#" in body:
        return body
    if "@" in body:
        name, _, tail = body.partition("@")
        if tail == "latest" or _VERSION.match(tail):
            return f"{name}@{tail if tail.startswith(('v', 'latest')) else 'v' + tail}"
        return f"{name}#{tail}"  # MLflow's alias: a stage here
    name, _, tail = body.rpartition("/")
    if not name:
        raise InvalidInputError(f"{uri!r}: give a version, @latest, #STAGE or @ALIAS")
    return f"{name}@v{tail.lstrip('v')}" if _VERSION.match(tail) else f"{name}#{tail.lower()}"


def locate(uri: str | os.PathLike[str], repo: RepoArg = None) -> Located:
    """The local folder of a model URI (exported from git and cached when needed)."""
    text = os.fspath(uri)
    if text.startswith("runs:/"):
        return _run_model(text, repo)
    if text.startswith("models:/"):
        return _registry_model(text, repo)
    path = Path(text[len("file://"):] if text.startswith("file://") else text)
    if not path.is_dir():
        raise ModelError(f"{text!r} is neither a model folder nor a runs:/ or models:/ URI")
    return Located(path, text)


def _run_model(uri: str, repo: RepoArg) -> Located:
    from ledger import names
    from ledger.api import close_ledger, open_ledger

    rest = uri[len("runs:/"):].strip("/")
    run_id, _, path = rest.partition("/")
    if not run_id or not path:
        raise InvalidInputError(f"{uri!r}: expected runs:/RUN_ID/PATH")
    path = names.check_artifact_path(path)
    lg, opened = open_ledger(repo)
    try:
        rid = lg.resolve(run_id)
        folder = lg.store.folder_tree(lg.store.root(lg.store.head()), rid)
        entry = lg.store.objects.lookup(folder, f"artifacts/{path}") if folder else None
        if entry is None:  # not committed yet: the journal of a live run has it
            return Located(_download_live(lg, rid, path), uri, run_id=rid)
        if not entry[0] & 0o040000:
            raise ModelError(f"{uri}: {path!r} is a file; a model is a folder")
        return Located(cached(lg, entry[1], f"run {rid[:12]} {path}"), uri, run_id=rid)
    finally:
        close_ledger(lg, opened)


def _download_live(lg: Ledger, rid: str, path: str) -> Path:
    try:
        tmp = Path(tempfile.mkdtemp(prefix="ledger-model-"))
        return lg.download_artifacts(rid, path, tmp)
    except RunNotFoundError as exc:
        raise ModelError(f"run {rid} has no model at {path!r}") from exc


def _registry_model(uri: str, repo: RepoArg) -> Located:
    from ledger.api import close_ledger, open_ledger
    from ledger.registry.api import resolve_model
    from ledger.registry.message import parse_version_message

    found = resolve_model(registry_ref(uri), repo=repo)
    version = str(found.version.version) if found.version else None
    lg, opened = open_ledger(repo, recover=False)
    try:
        tree = lg.store.objects.commit(found.commit.encode()).tree
        folder = cached(lg, tree, f"{found.model}@{version or found.commit[:12]}")
    finally:
        close_ledger(lg, opened)
    run_id = parse_version_message(found.version.message).run_id if found.version else None
    return Located(folder, uri, run_id=run_id or _manifest_run(folder), name=found.model,
                   version=version)


def _manifest_run(folder: Path) -> str | None:
    import json

    from ledger.registry.package import MANIFEST

    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError):
        return None


def cached(lg: Ledger, tree: bytes, label: str) -> Path:
    """``.git/ledger/models/<tree id>``: written once, verified against the tree on each use."""
    from ledger.registry.package import export_files, tree_files

    files = tree_files(lg.store.objects, tree, label)
    folder = lg.gitdir.ledger_dir / "models" / tree.decode()
    if folder.is_dir():
        if _matches(folder, files, lg):
            return folder
        shutil.rmtree(folder, ignore_errors=True)  # damaged: write it again
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        return export_files(lg.store.objects, files, folder, lg.gitdir)
    except OSError:
        if folder.is_dir() and _matches(folder, files, lg):  # a concurrent caller was first
            return folder
        raise


def _matches(folder: Path, files: list[tuple[str, int, bytes]], lg: Ledger) -> bool:
    from ledger.storage.offload import describe

    for rel, _mode, sha in files:
        try:
            data = (folder / rel).read_bytes()
        except OSError:
            return False
        digest = hashlib.sha1(b"blob %d\0" % len(data))
        digest.update(data)
        if digest.hexdigest().encode() != sha:
            # a file kept in the store of large files: git holds its pointer (sha256, size)
            stored = describe(lg.store.objects.blob_bytes(sha))
            if stored != (len(data), hashlib.sha256(data).hexdigest()):
                return False
    return True
