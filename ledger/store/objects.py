"""Git objects in and out: blobs, trees, commits, read by store/reader.py into dulwich's
objects, written as packs.

Writing small objects as loose files is what costs time in git (file creation, not hashing),
and a sweep of runs would leave tens of thousands of files: every batch of new objects goes
into one small pack instead (two files), which the ledger consolidates (store/packs.py).
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tag, Tree

from ledger.errors import LedgerError
from ledger.store.packs import Packs
from ledger.store.reader import DamagedPackError, ObjectReader
from ledger.store.tree_entries import TREE_TYPE, RawObject, TreeEntries

Written = ShaFile | RawObject  # what the ledger writes: dulwich's objects, or trees as bytes

TREE_CACHE_BYTES = 32 << 20  # parsed trees kept in memory, per store
TREE_ENTRY_BYTES = 250  # memory of one parsed tree entry (name, mode, sha, dict slot)
LOOKUP_BYTES = 8192  # blobs from this size are looked up before they are written
RECENT_OBJECTS = 1024  # objects this process wrote, kept to be read back without a lookup
TREE_MODE = stat.S_IFDIR
FILE_MODE = 0o100644

_MISSING = object()


class TreeCache:
    """Recently used trees (dulwich's, or TreeEntries), bounded by their (estimated) memory:
    a process that lives for days must not keep every tree it ever wrote or read."""

    def __init__(self, budget: int = TREE_CACHE_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[bytes, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, sha: bytes) -> Any:
        with self._lock:
            hit = self._items.get(sha)
            if hit is None:
                return None
            self._items.move_to_end(sha)
            return hit[0]

    def put(self, sha: bytes, tree: Tree | TreeEntries) -> None:
        cost = 100 + TREE_ENTRY_BYTES * len(tree)
        if cost > self.budget:
            return
        with self._lock:
            old = self._items.pop(sha, None)
            if old is not None:
                self.size -= old[1]
            self._items[sha] = (tree, cost)
            self.size += cost
            while self.size > self.budget:
                _, (_, freed) = self._items.popitem(last=False)
                self.size -= freed

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


class ObjectStore:
    """The repository's objects: read (store/reader.py) into dulwich's objects, cached, and
    written as packs."""

    def __init__(self, objects_dir: Path) -> None:
        self._store = ObjectReader(objects_dir)
        self._dir = objects_dir
        self.packs = Packs(objects_dir)
        self._trees = TreeCache()
        self._entries = TreeCache()  # the same trees as TreeEntries, for edits and lookups
        self._recent: dict[bytes, Written] = {}  # written by this process, read back at once

    def close(self) -> None:
        self._store.close()
        self._trees.clear()
        self._entries.clear()
        self._recent.clear()

    @property
    def path(self) -> Path:
        """The object folder."""
        return self._dir

    def __contains__(self, sha: bytes) -> bool:
        return sha in self._recent or sha in self._store

    def get(self, sha: bytes) -> ShaFile:
        recent = self._recent.get(sha)
        if isinstance(recent, RawObject):
            recent = self._recent[sha] = ShaFile.from_raw_string(
                recent.type_num, recent.data, ObjectID(sha))
        if recent is not None:
            return recent
        type_num, data = self._raw(sha)
        return ShaFile.from_raw_string(type_num, data, ObjectID(sha))

    def _raw(self, sha: bytes) -> tuple[int, bytes]:
        try:
            return self._store.get_raw(sha)
        except KeyError:
            raise LedgerError(
                f"git object {sha.decode()} is missing: the repository is incomplete "
                "(try `git fsck`)"
            ) from None
        except DamagedPackError as exc:
            raise LedgerError(f"git object {sha.decode()} cannot be read: {exc} "
                              "(try `git fsck`)") from None
        except RecursionError:  # reference deltas in a cycle: only a damaged pack has one
            raise LedgerError(f"git object {sha.decode()} cannot be read: its deltas form a "
                              "cycle (try `git fsck`)") from None

    def tree(self, sha: bytes) -> Tree:
        cached = self._trees.get(sha)
        if cached is None:
            obj = self.get(sha)
            if not isinstance(obj, Tree):
                raise LedgerError(f"git object {sha.decode()} is not a tree")
            cached = obj
            self._trees.put(sha, cached)
        return cached

    def entries(self, sha: bytes) -> TreeEntries:
        """A tree as TreeEntries (for edits and path lookups), cached."""
        cached = self._entries.get(sha)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        recent = self._recent.get(sha)
        if recent is not None:
            type_num, data = recent.type_num, recent.as_raw_string()
        else:
            type_num, data = self._raw(sha)
        if type_num != TREE_TYPE:
            raise LedgerError(f"git object {sha.decode()} is not a tree")
        try:
            entries = TreeEntries.parse(data)
        except ValueError:
            raise LedgerError(f"git object {sha.decode()} is a damaged tree") from None
        self._entries.put(sha, entries)
        return entries

    def keep_entries(self, sha: bytes, entries: TreeEntries) -> None:
        """Remember the entries of a tree just made (its id is its content: always valid)."""
        self._entries.put(sha, entries)

    def blob_bytes(self, sha: bytes) -> bytes:
        obj = self.get(sha)
        if not isinstance(obj, Blob):
            raise LedgerError(f"git object {sha.decode()} is not a blob")
        return obj.as_raw_string()

    def commit(self, sha: bytes) -> Commit:
        obj = self.get(sha)
        if isinstance(obj, Tag):
            obj = self.get(obj.object[1])
        if not isinstance(obj, Commit):
            raise LedgerError(f"git object {sha.decode()} is not a commit")
        return obj

    def add(self, objects: Iterable[Written]) -> None:
        """Write the objects that are not stored yet, all in one pack.

        Only larger blobs are looked up first (a file logged again, the shared package
        list): a lookup of a new object scans every pack, while a duplicate small object
        costs a few bytes until the packs are merged (trees and commits are new in practice).
        """
        fresh: dict[bytes, Written] = {}
        for obj in objects:
            sha = obj.id
            if sha in fresh:
                continue
            if sha in self._recent or (isinstance(obj, Blob) and obj.raw_length() >= LOOKUP_BYTES
                                       and sha in self._store):
                self._freshen(sha)
            else:
                fresh[sha] = obj
        if not fresh:
            return
        self.packs.write([(o.type_num, o.as_raw_string(),
                           o.digest() if isinstance(o, RawObject) else o.sha().digest())
                          for o in fresh.values()])
        # read back from memory: no rescan of the pack folder for what we just wrote
        if len(self._recent) > RECENT_OBJECTS:
            self._recent.clear()
        self._recent.update(fresh)
        for obj in fresh.values():
            if isinstance(obj, Tree):
                self._trees.put(obj.id, obj)

    def _freshen(self, sha: bytes) -> None:
        # as git does: an old unreachable loose object about to be referenced again gets a
        # new mtime, so that a concurrent `git gc` does not prune it before the ref moves
        hexsha = sha.decode()
        try:
            os.utime(self._dir / hexsha[:2] / hexsha[2:])
        except OSError:
            pass

    def consolidate(self) -> None:
        """Start merging the ledger's small packs if there are too many (never waits)."""
        self.packs.maybe_merge()

    def walk_files(self, tree_sha: bytes, prefix: str = ""
                   ) -> Iterator[tuple[str, int, bytes]]:
        """Every file below a tree as (path, mode, sha), in git's order."""
        for entry in self.tree(tree_sha).iteritems():
            name = entry.path.decode("utf-8", "surrogateescape")
            path = f"{prefix}{name}"
            if stat.S_ISDIR(entry.mode):
                yield from self.walk_files(entry.sha, path + "/")
            else:
                yield path, entry.mode, entry.sha

    def lookup(self, tree_sha: bytes, path: str) -> tuple[int, bytes] | None:
        """The (mode, sha) at a slash-separated path below a tree, or None."""
        mode, sha = TREE_MODE, tree_sha
        for part in path.split("/"):
            if not stat.S_ISDIR(mode):
                return None
            found = self.entries(sha).get(part.encode())
            if found is None:
                return None
            mode, sha = found
        return mode, sha


def blob(data: bytes) -> Blob:
    return Blob.from_string(data)


def file_blob(path: str | os.PathLike[str]) -> Blob:
    with open(path, "rb") as f:
        return Blob.from_string(f.read())
