"""Build and edit git trees; an edit rewrites only the trees on the paths it touches (P4)."""

from __future__ import annotations

import stat
from collections.abc import Mapping

from dulwich.objects import ObjectID, ShaFile, Tree

from ledger.store.objects import FILE_MODE, TREE_MODE, ObjectStore

# A change at a path: (mode, sha) to set, or None to delete.
Entry = tuple[int, bytes]


def build(files: Mapping[str, Entry], out: list[ShaFile]) -> bytes:
    """A tree holding `files` (path -> (mode, sha)); new tree objects are appended to `out`."""
    direct: dict[str, Entry] = {}
    nested: dict[str, dict[str, Entry]] = {}
    for path, entry in files.items():
        head, sep, rest = path.partition("/")
        if sep:
            nested.setdefault(head, {})[rest] = entry
        else:
            direct[head] = entry
    tree = Tree()
    for name, (mode, sha) in direct.items():
        tree.add(name.encode(), mode, ObjectID(sha))
    for name, sub in nested.items():
        tree.add(name.encode(), TREE_MODE, ObjectID(build(sub, out)))
    out.append(tree)
    return tree.id


def edit(
    store: ObjectStore,
    root: bytes | None,
    changes: Mapping[str, Entry | None],
    out: list[ShaFile],
) -> bytes | None:
    """Apply path changes to the tree `root` (None: empty); returns the new tree or None if empty.

    Only the trees along the changed paths are read and rewritten.
    """
    # a copy parsed from the raw tree in C: a fan-out tree has hundreds of entries
    tree = Tree() if root is None else Tree.from_string(store.tree(root).as_raw_string())
    grouped: dict[str, dict[str, Entry | None]] = {}
    for path, change in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            grouped.setdefault(head, {})[rest] = change
        elif change is None:
            if head.encode() in tree:
                del tree[head.encode()]
        else:
            tree.add(head.encode(), change[0], ObjectID(change[1]))
    for head, sub in grouped.items():
        key = head.encode()
        child: bytes | None = None
        if key in tree:
            mode, sha = tree[key]
            child = sha if stat.S_ISDIR(mode) else None
        new_child = edit(store, child, sub, out)
        if new_child is None:
            if key in tree:
                del tree[key]
        else:
            tree.add(key, TREE_MODE, ObjectID(new_child))
    if not len(tree):
        return None
    out.append(tree)
    return tree.id


__all__ = ["build", "edit", "Entry", "FILE_MODE", "TREE_MODE"]
