"""Git objects in and out: blobs, trees, commits, read through dulwich, written in batches.

Writing many small objects as loose files is what costs time in git (file creation, not
hashing), so a batch of more than a few objects goes into one pack.
"""

from __future__ import annotations

import atexit
import os
import secrets
import stat
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

from dulwich.object_store import DiskObjectStore
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tag, Tree

from ledger.errors import LedgerError

PACK_THRESHOLD = 64  # objects; below this loose files are cheaper than a pack + index
TREE_CACHE_BYTES = 32 << 20  # parsed trees kept in memory, per store
TREE_ENTRY_BYTES = 250  # memory of one parsed tree entry (name, mode, sha, dict slot)
TREE_MODE = stat.S_IFDIR
FILE_MODE = 0o100644

_MISSING = object()


_open_stores: weakref.WeakSet[ObjectStore] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # dulwich's pack objects complain from __del__ when the interpreter is torn down first
    for store in list(_open_stores):
        store.close()


class TreeCache:
    """Recently used trees, bounded by their (estimated) memory: a process that lives for
    days must not keep every tree it ever wrote or read."""

    def __init__(self, budget: int = TREE_CACHE_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[bytes, tuple[Tree, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, sha: bytes) -> Tree | None:
        with self._lock:
            hit = self._items.get(sha)
            if hit is None:
                return None
            self._items.move_to_end(sha)
            return hit[0]

    def put(self, sha: bytes, tree: Tree) -> None:
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
    """A thin, caching wrapper around dulwich's disk object store."""

    def __init__(self, objects_dir: Path) -> None:
        self._store = DiskObjectStore(str(objects_dir))
        self._dir = objects_dir
        self._trees = TreeCache()
        _open_stores.add(self)

    def close(self) -> None:
        self._store.close()
        self._trees.clear()

    @property
    def dulwich(self) -> DiskObjectStore:
        return self._store

    def __contains__(self, sha: bytes) -> bool:
        return ObjectID(sha) in self._store

    def get(self, sha: bytes) -> ShaFile:
        try:
            return self._store[ObjectID(sha)]
        except KeyError:
            raise LedgerError(
                f"git object {sha.decode()} is missing: the repository is incomplete "
                "(try `git fsck`)"
            ) from None

    def tree(self, sha: bytes) -> Tree:
        cached = self._trees.get(sha)
        if cached is None:
            obj = self.get(sha)
            if not isinstance(obj, Tree):
                raise LedgerError(f"git object {sha.decode()} is not a tree")
            cached = obj
            self._trees.put(sha, cached)
        return cached

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

    def add(self, objects: Iterable[ShaFile]) -> None:
        """Write objects that are not stored yet: loose when few, one pack when many."""
        fresh: dict[bytes, ShaFile] = {}
        for obj in objects:
            sha = obj.id
            if sha not in fresh:
                fresh[sha] = obj
        if len(fresh) >= PACK_THRESHOLD:
            missing = [(o, None) for s, o in fresh.items() if ObjectID(s) not in self._store]
            if len(missing) >= PACK_THRESHOLD:
                self._store.add_objects(missing)
                return
            fresh = {o.id: o for o, _ in missing}
        for obj in fresh.values():
            self._write_loose(obj)
        for obj in fresh.values():
            if isinstance(obj, Tree):
                self._trees.put(obj.id, obj)

    def _write_loose(self, obj: ShaFile) -> None:
        """Write one loose object as git does: a temp file renamed into place.

        Concurrent writers of the same (content-addressed) object both succeed. An existing
        object gets a fresh mtime instead, so that `git gc` does not prune it before the ref
        that will reach it is written.
        """
        hexsha = obj.id.decode()
        folder = self._dir / hexsha[:2]
        path = folder / hexsha[2:]
        try:
            os.utime(path)
            return
        except FileNotFoundError:
            pass
        data = obj.as_legacy_object(compression_level=1)
        folder.mkdir(exist_ok=True)
        tmp = folder / f"tmp_obj_{os.getpid()}_{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:  # e.g. a full disk: leave no temporary file behind
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

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
            tree = self.tree(sha)
            try:
                mode, sha = tree[part.encode()]
            except KeyError:
                return None
        return mode, sha


def blob(data: bytes) -> Blob:
    return Blob.from_string(data)


def file_blob(path: str | os.PathLike[str]) -> Blob:
    with open(path, "rb") as f:
        return Blob.from_string(f.read())
