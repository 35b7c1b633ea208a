"""Craft run folders straight into a ledger ref, as a hostile remote (or plain git) could."""

from __future__ import annotations

from pathlib import Path

from ledger.api import Ledger
from ledger.runs.store import RUNS_REF
from ledger.store import trees
from ledger.store.objects import blob

FILE, LINK, GITLINK = 0o100644, 0o120000, 0o160000


def craft(repo: Path, folders: dict[str, dict[str, tuple[int, bytes]]]) -> bytes:
    """Add files (`runs/<fan>/<id>/<rel>` -> (mode, contents)) to refs/ledger/runs in one
    commit. A key may name the folder as `<fan>/<id>` to put it in another fan-out."""
    lg = Ledger(repo, recover=False)
    store = lg.store
    head = store.head()
    out: list = []
    changes: dict[str, trees.Entry | None] = {}
    for folder, files in folders.items():
        where = folder if "/" in folder else f"{folder[-2:]}/{folder}"
        for rel, (mode, data) in files.items():
            if mode == GITLINK:
                sha = b"1" * 40
            else:
                obj = blob(data)
                out.append(obj)
                sha = obj.id
            changes[f"runs/{where}/{rel}"] = (mode, sha)
    root = trees.edit(store.objects, store.root(head), changes, out)
    assert root is not None
    commit = store._commit_object(root, head, ["crafted"])
    out.append(commit)
    store.objects.add(out)
    assert store.refs.swap(RUNS_REF, head, commit.id)
    return commit.id
