"""A git tree as its serialized entries, in git's order: edit a few, write it again.

A commit of one run rewrites the `runs/` fan-out tree (up to 256 entries) and the trees
below it. Re-encoding every entry of those trees for every commit (dulwich's Tree does) was
a fifth of a short run's cost; here each entry stays as the bytes git stores
(`<octal mode> <name>\\0<20-byte id>`), so an edit copies a dict and a sorted list, and
writing the tree is one join.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping

DIR_MODE = 0o040000
TREE_TYPE = 2


def _sort_key(name: bytes, mode: int) -> bytes:
    """git orders a tree's entries by name, a folder's name as if it ended in '/'."""
    return name + b"/" if mode & 0o170000 == DIR_MODE else name


class TreeEntries:
    """The entries of one tree. Immutable: `edited` returns a new one."""

    __slots__ = ("_keys", "_raw")

    def __init__(self, keys: list[bytes], raw: dict[bytes, bytes]) -> None:
        self._keys = keys  # sort keys, in git's order
        self._raw = raw  # sort key -> serialized entry

    @classmethod
    def parse(cls, data: bytes) -> TreeEntries:
        """Entries of a tree object's content (already in git's order)."""
        keys: list[bytes] = []
        raw: dict[bytes, bytes] = {}
        pos, end = 0, len(data)
        try:
            while pos < end:
                space = data.index(b" ", pos)
                nul = data.index(b"\0", space)
                stop = nul + 21
                if stop > end:
                    raise ValueError("truncated")
                key = _sort_key(data[space + 1:nul], int(data[pos:space], 8))
                keys.append(key)
                raw[key] = data[pos:stop]
                pos = stop
        except ValueError:
            raise ValueError("not a well-formed git tree") from None
        return cls(keys, raw)

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, name: bytes) -> tuple[int, bytes] | None:
        """(mode, hex id) of the entry called `name`, or None."""
        entry = self._raw.get(name) or self._raw.get(name + b"/")
        if entry is None:
            return None
        space = entry.index(b" ")
        return int(entry[:space], 8), entry[-20:].hex().encode()

    def items(self) -> list[tuple[bytes, int, bytes]]:
        """(name, mode, hex id) of every entry, in git's order."""
        out = []
        for key in self._keys:
            entry = self._raw[key]
            space = entry.index(b" ")
            out.append((entry[space + 1:-21], int(entry[:space], 8), entry[-20:].hex().encode()))
        return out

    def edited(self, changes: Mapping[bytes, tuple[int, bytes] | None]) -> TreeEntries:
        """A copy with `changes` applied: name -> (mode, hex id) to set, or None to delete."""
        keys = list(self._keys)
        raw = dict(self._raw)
        for name, change in changes.items():
            for old in (name, name + b"/"):
                if raw.pop(old, None) is not None:
                    del keys[bisect.bisect_left(keys, old)]
            if change is not None:
                mode, hexsha = change
                key = _sort_key(name, mode)
                raw[key] = b"%o %s\0%s" % (mode, name, bytes.fromhex(hexsha.decode()))
                bisect.insort(keys, key)
        return TreeEntries(keys, raw)

    def serialize(self) -> bytes:
        return b"".join([self._raw[k] for k in self._keys])


class RawObject:
    """A git object made as bytes (a tree from TreeEntries), ready to be packed."""

    __slots__ = ("type_num", "data", "_digest")

    def __init__(self, type_num: int, data: bytes) -> None:
        self.type_num = type_num
        self.data = data
        header = b"%s %d\0" % (_TYPE_NAMES[type_num], len(data))
        self._digest = hashlib.sha1(header + data).digest()

    @property
    def id(self) -> bytes:
        """The hex id, as dulwich gives it."""
        return self._digest.hex().encode()

    def digest(self) -> bytes:
        return self._digest

    def as_raw_string(self) -> bytes:
        return self.data


_TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
