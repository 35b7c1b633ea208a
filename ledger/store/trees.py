"""Build and edit git trees; an edit rewrites only the trees on the paths it touches (P4).

Trees are made as bytes (store/tree_entries.py): a commit that changes one run edits a few
entries of the fan-out trees on its path, and never re-encodes the others.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping

from ledger.store.objects import FILE_MODE, TREE_MODE, ObjectStore, Written
from ledger.store.tree_entries import TREE_TYPE, RawObject, TreeEntries

# A change at a path: (mode, sha) to set, or None to delete.
Entry = tuple[int, bytes]

_EMPTY = TreeEntries([], {})


def build(files: Mapping[str, Entry], out: list[Written]) -> bytes:
    """A tree holding `files` (path -> (mode, sha)); new tree objects are appended to `out`."""
    return _edit(None, _EMPTY, files, out) or _write(None, _EMPTY, out)


def edit(
    store: ObjectStore,
    root: bytes | None,
    changes: Mapping[str, Entry | None],
    out: list[Written],
) -> bytes | None:
    """Apply path changes to the tree `root` (None: empty); returns the new tree or None if empty.

    Only the trees along the changed paths are read and rewritten.
    """
    return _edit(store, _EMPTY if root is None else store.entries(root), changes, out)


def _edit(store: ObjectStore | None, tree: TreeEntries, changes: Mapping[str, Entry | None],
          out: list[Written]) -> bytes | None:
    direct: dict[bytes, Entry | None] = {}
    grouped: dict[str, dict[str, Entry | None]] = {}
    for path, change in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            grouped.setdefault(head, {})[rest] = change
        else:
            direct[head.encode()] = change
    for head, sub in grouped.items():
        key = head.encode()
        found = tree.get(key)
        child = (store.entries(found[1]) if store is not None and found is not None
                 and stat.S_ISDIR(found[0]) else _EMPTY)
        new_child = _edit(store, child, sub, out)
        direct[key] = None if new_child is None else (TREE_MODE, new_child)
    edited = tree.edited(direct)
    if not len(edited):
        return None
    return _write(store, edited, out)


def _write(store: ObjectStore | None, tree: TreeEntries, out: list[Written]) -> bytes:
    obj = RawObject(TREE_TYPE, tree.serialize())
    out.append(obj)
    if store is not None:
        store.keep_entries(obj.id, tree)
    return obj.id


__all__ = ["build", "edit", "Entry", "FILE_MODE", "TREE_MODE"]
