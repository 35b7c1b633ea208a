"""Before a push moves the remote ref: upload what the pushed runs point to.

The runs that differ between the remote's head and ours are the ones being pushed; their
artifact blobs that are pointers (``ledger-pointer v1``), and their inputs logged with
``store=True``, name the objects the store must hold. Only blobs small enough to be pointers
are read, and a ledger without large files never opens a store.
"""

from __future__ import annotations

import stat

from ledger.runs.record import RunRecord
from ledger.runs.store import RUN_FILE, RunStore, changed_runs
from ledger.storage import pointer
from ledger.storage.cas import Progress, Uploaded
from ledger.storage.offload import content_store
from ledger.storage.pointer import Pointer


def pointers_between(store: RunStore, theirs: bytes | None, ours: bytes | None
                     ) -> list[Pointer]:
    """What the runs changed from ``theirs`` to ``ours`` point to (artifacts and stored
    inputs)."""
    objects = store.objects
    old_root = store.root(theirs) if theirs is not None and theirs in objects else None
    new_root = store.root(ours)
    found: dict[str, Pointer] = {}
    for run_id in changed_runs(objects, old_root, new_root):
        folder = store.folder_tree(new_root, run_id)
        if folder is None:
            continue
        for _path, mode, sha in store.artifact_files(folder):
            raw = objects.get(sha)
            if stat.S_ISREG(mode) and raw.raw_length() <= pointer.MAX_BYTES:
                p = pointer.parse(raw.as_raw_string())
                if p is not None:
                    found[p.sha256] = p
        entry = objects.lookup(folder, RUN_FILE)
        if entry is not None:
            record = RunRecord.from_json(objects.blob_bytes(entry[1]))
            for item in record.inputs:
                if item.get("stored") and str(item.get("digest", "")).startswith("sha256:"):
                    digest = item["digest"][len("sha256:"):]
                    found[digest] = Pointer(digest, int(item["size"]))
    return list(found.values())


def upload_for_push(store: RunStore, theirs: bytes | None, ours: bytes | None,
                    progress: Progress | None = None) -> Uploaded:
    """Upload what the runs being pushed point to; nothing to do without pointers."""
    wanted = pointers_between(store, theirs, ours)
    if not wanted:
        return Uploaded()
    return content_store(store.gitdir).upload(wanted, progress)
