"""Before a push moves the remote ref: upload what the pushed runs point to.

The runs that differ between the remote's head and ours are the ones being pushed; their
artifact blobs that are pointers (``ledger-pointer v1``), and their inputs logged with
``store=True``, name the objects the store must hold. Only blobs small enough to be pointers
are read (their sizes come from one `git cat-file --batch-check`), and a ledger without large
files never opens a store.
"""

from __future__ import annotations

import stat

from ledger.runs.record import RunRecord
from ledger.runs.store import RUN_FILE, RunStore, changed_runs
from ledger.storage import pointer
from ledger.storage.cas import Progress, Uploaded
from ledger.storage.offload import content_store
from ledger.storage.pointer import Pointer
from ledger.store.git import run_git


def pointers_between(store: RunStore, theirs: bytes | None, ours: bytes | None
                     ) -> list[Pointer]:
    """What the runs changed from ``theirs`` to ``ours`` point to (artifacts and stored
    inputs)."""
    objects = store.objects
    old_root = store.root(theirs) if theirs is not None and theirs in objects else None
    new_root = store.root(ours)
    found: dict[str, Pointer] = {}
    folders = [f for r in changed_runs(objects, old_root, new_root)
               if (f := store.folder_tree(new_root, r)) is not None]
    blobs = {sha for f in folders for _path, mode, sha in store.artifact_files(f)
             if stat.S_ISREG(mode)}
    for sha in _small(store, blobs):
        p = pointer.parse(objects.blob_bytes(sha))
        if p is not None:
            found[p.sha256] = p
    for folder in folders:
        entry = objects.lookup(folder, RUN_FILE)
        if entry is not None:
            record = RunRecord.from_json(objects.blob_bytes(entry[1]))
            for item in record.inputs:
                if item.get("stored") and str(item.get("digest", "")).startswith("sha256:"):
                    digest = item["digest"][len("sha256:"):]
                    found[digest] = Pointer(digest, int(item["size"]))
    return list(found.values())


def _small(store: RunStore, shas: set[bytes]) -> list[bytes]:
    """The blobs small enough to be pointers, from their headers alone (one `git cat-file`):
    large artifacts kept in git are never read to find out."""
    if not shas:
        return []
    where = store.gitdir.work_tree or store.gitdir.git_dir
    out = run_git(where, ["cat-file", "--batch-check=%(objectname) %(objectsize)"],
                  stdin=b"".join(sha + b"\n" for sha in sorted(shas))).stdout
    found = []
    for line in out.splitlines():
        sha, _, size = line.partition(b" ")
        if size.isdigit() and int(size) <= pointer.MAX_BYTES:
            found.append(sha)
    return found


def upload_for_push(store: RunStore, theirs: bytes | None, ours: bytes | None,
                    progress: Progress | None = None) -> Uploaded:
    """Upload what the runs being pushed point to; nothing to do without pointers."""
    wanted = pointers_between(store, theirs, ours)
    if not wanted:
        return Uploaded()
    return content_store(store.gitdir).upload(wanted, progress)
