"""Artifacts out of the ledger into files: every stored path is checked again as it is
written (whoever stored it: a pulled run, plain git), and contents are streamed."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ledger import names
from ledger.errors import DamagedRunError, InvalidInputError, RunNotFoundError
from ledger.runs import replay
from ledger.store import stream
from ledger.store.objects import FILE_MODE

if TYPE_CHECKING:
    from ledger.runs.lifecycle import Runs

EXEC_MODE = 0o100755


def stored(runs: Runs, rid: str) -> dict[str, tuple[int, bytes]]:
    """path -> (mode, blob id) of every artifact of a run: committed, then journaled."""
    tree = runs.store.folder_tree(runs.store.root(runs.store.head()), rid)
    found = {path: (mode, sha) for path, mode, sha in
             (runs.store.artifact_files(tree) if tree else ())}
    for rep in replay.live(runs.journal_dir, rid):
        for path, (sha, _size) in rep.artifacts.items():
            found.setdefault(path, (FILE_MODE, sha))
    return found


def download(runs: Runs, rid: str, path: str | None, dst: str | os.PathLike[str]) -> Path:
    """An artifact file, or a folder of them (None: all), below `dst` (created if missing)."""
    out = output_path(dst)
    wanted = names.check_artifact_path(path) if path else None
    files = {p: e for p, e in stored(runs, rid).items()
             if wanted is None or p == wanted or p.startswith(wanted + "/")}
    if not files:
        raise RunNotFoundError(f"run {rid} has no artifact {wanted or ''!r}".rstrip())
    plan = [(out / safe(rid, rel, mode), sha, False) for rel, (mode, sha) in sorted(files.items())]
    from ledger.storage.offload import write_stored  # large files: only where they are read

    stream.write_files(runs.gitdir.common_dir, plan, partial(write_stored, runs.gitdir))
    return out / wanted if wanted else out


def save(runs: Runs, rid: str, path: str, output: str | os.PathLike[str]) -> Path:
    """A file to `output` (or below it, if it is a folder); a folder below `output`."""
    target = output_path(output)
    wanted = names.check_artifact_path(path)
    entry = stored(runs, rid).get(wanted)
    if entry is None:
        return download(runs, rid, wanted, target)
    rel = safe(rid, wanted, entry[0])
    target = target / rel if target.is_dir() else target
    from ledger.storage.offload import write_stored

    stream.write_files(runs.gitdir.common_dir, [(target, entry[1], False)],
                       partial(write_stored, runs.gitdir))
    return target


def copy_to(runs: Runs, rid: str, path: str, out: BinaryIO) -> bool:
    """Stream one artifact file into `out`; False if the run has no such file."""
    wanted = names.check_artifact_path(path)
    entry = stored(runs, rid).get(wanted)
    if entry is None:
        return False
    safe(rid, wanted, entry[0])
    from ledger.storage.offload import copy_stored

    with stream.blobs(runs.gitdir.common_dir, [entry[1]]) as found:
        for _sha, size, reader in found:
            if not copy_stored(runs.gitdir, reader, size, out):  # large files from the store
                stream.copy(reader, out)
    return True


def output_path(dst: str | os.PathLike[str]) -> Path:
    if not os.fspath(dst):
        raise InvalidInputError("no output path given: name a file or a folder")
    return Path(dst)


def safe(rid: str, path: str, mode: int) -> str:
    """A stored artifact path, checked before anything is written from it (P8)."""
    try:
        rel = names.check_artifact_path(path)
    except InvalidInputError:
        raise DamagedRunError(f"run {rid} stores an artifact at the unsafe path {path!r}; "
                              "refusing to write it") from None
    if mode not in (FILE_MODE, EXEC_MODE):
        raise DamagedRunError(f"run {rid} stores {path!r} as mode {mode:o} (not a plain "
                              "file); refusing to write it")
    return rel
