"""Read git objects from a repository's object folder: packs (through their indexes, with
offset and reference deltas), loose objects, and alternates.

The ledger reads a few trees, commits and blobs per command; dulwich's object store brought
logging, multi-pack indexes and the wire protocol into every `ledger log` (a tenth of its
start-up). Formats as git documents them (gitformat-pack): index versions 1 and 2, with
64-bit offsets; pack entries of the four object types and both delta kinds.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

OFS_DELTA, REF_DELTA = 6, 7
_TYPES = {b"commit": 1, b"tree": 2, b"blob": 3, b"tag": 4}
_IDX_MAGIC = b"\377tOc"
BASE_CACHE_BYTES = 16 << 20  # inflated delta bases kept, per reader
MAX_DELTA_DEPTH = 10_000  # a cycle in a damaged pack must not loop for ever
MAX_ALTERNATES = 5  # chained alternates followed, as git does


class DamagedPackError(ValueError):
    """A pack or index that is not what git writes."""


def _map(path: Path) -> mmap.mmap:
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class PackIndex:
    """Binary search of one pack index (version 1 or 2), mapped from disk."""

    def __init__(self, path: Path) -> None:
        self._data = data = _map(path)
        if data[:4] == _IDX_MAGIC:
            if struct.unpack_from(">I", data, 4)[0] != 2:
                raise DamagedPackError(f"{path}: unknown pack index version")
            self._fanout_at, self._v2 = 8, True
        else:
            self._fanout_at, self._v2 = 0, False
        if len(data) < self._fanout_at + 256 * 4 + 40:
            raise DamagedPackError(f"{path}: truncated pack index")
        self.count = struct.unpack_from(">I", data, self._fanout_at + 255 * 4)[0]
        start = self._fanout_at + 256 * 4
        if len(data) < start + self.count * (28 if self._v2 else 24) + 40:
            raise DamagedPackError(f"{path}: truncated pack index")
        if self._v2:
            self._shas, self._width = start, 20
            self._offsets = start + self.count * 24  # after the ids and the crc32s
            self._large = self._offsets + self.count * 4
        else:
            self._shas, self._width = start + 4, 24  # (offset, id) pairs

    def close(self) -> None:
        self._data.close()

    def offset(self, binsha: bytes) -> int | None:
        """Where the object is in the pack, or None if it is not in it."""
        data, first = self._data, binsha[0]
        lo = struct.unpack_from(">I", data, self._fanout_at + (first - 1) * 4)[0] if first else 0
        hi = struct.unpack_from(">I", data, self._fanout_at + first * 4)[0]
        base, width = self._shas, self._width
        while lo < hi:
            mid = (lo + hi) // 2
            at = base + mid * width
            found = data[at:at + 20]
            if found < binsha:
                lo = mid + 1
            elif found > binsha:
                hi = mid
            else:
                return self._offset_of(mid)
        return None

    def _offset_of(self, i: int) -> int:
        data = self._data
        if not self._v2:
            return int(struct.unpack_from(">I", data, self._shas + i * 24 - 4)[0])
        value = struct.unpack_from(">I", data, self._offsets + i * 4)[0]
        if value & 0x80000000:
            return int(struct.unpack_from(">Q", data, self._large + (value & 0x7FFFFFFF) * 8)[0])
        return int(value)


class Pack:
    """One pack and its index; the pack is mapped on first use."""

    def __init__(self, idx_path: Path) -> None:
        self.idx_path = idx_path
        self.index = PackIndex(idx_path)
        self._data: mmap.mmap | None = None

    @property
    def data(self) -> mmap.mmap:
        if self._data is None:
            self._data = _map(self.idx_path.with_suffix(".pack"))
        return self._data

    def entry(self, offset: int) -> tuple[int, int, int, int | bytes | None]:
        """(type, size, start of the compressed data, delta base: an offset, an id, or
        None)."""
        data = self.data
        byte = data[offset]
        kind = (byte >> 4) & 7
        size = byte & 0x0F
        shift = 4
        pos = offset + 1
        while byte & 0x80:
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
        if kind == OFS_DELTA:
            back, pos = offset_varint(data, pos)
            return kind, size, pos, offset - back
        if kind == REF_DELTA:
            return kind, size, pos + 20, bytes(data[pos:pos + 20])
        if kind not in (1, 2, 3, 4):
            raise DamagedPackError(f"{self.idx_path}: object of type {kind} at {offset}")
        return kind, size, pos, None

    def inflate(self, pos: int, size: int) -> bytes:
        """The `size` bytes compressed at `pos` (fed in pieces: what zlib leaves unused is
        copied, and the rest of a large pack must not be)."""
        inflater = zlib.decompressobj()
        out: list[bytes] = []
        piece = min(size + size // 512 + 64, 1 << 16)  # small objects in one piece
        with memoryview(self.data) as view:
            while not inflater.eof:
                with view[pos:pos + piece] as chunk:
                    if not chunk:
                        raise DamagedPackError(f"{self.idx_path}: truncated object at {pos}")
                    try:
                        out.append(inflater.decompress(chunk))
                    except zlib.error as exc:
                        raise DamagedPackError(f"{self.idx_path}: {exc} at {pos}") from None
                    pos += len(chunk)
        data = b"".join(out)
        if len(data) != size:
            raise DamagedPackError(f"{self.idx_path}: object of the wrong size at {pos}")
        return data


def offset_varint(data: bytes | mmap.mmap, pos: int) -> tuple[int, int]:
    """git's "offset encoding" (a delta's base offset; index v4's prefix length): the value,
    and the position after it."""
    byte = data[pos]
    pos += 1
    value = byte & 0x7F
    while byte & 0x80:
        byte = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, pos


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """git's delta: the sizes of source and result, then copy and insert instructions."""
    sizes = []
    pos = 0
    for _ in range(2):  # source size, result size (varints)
        value = shift = 0
        while True:
            byte = delta[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        sizes.append(value)
    if sizes[0] != len(base):
        raise DamagedPackError("delta for a base of another size")
    out: list[bytes] = []
    end = len(delta)
    while pos < end:
        op = delta[pos]
        pos += 1
        if op & 0x80:  # copy from the base
            offset = size = 0
            for i in range(4):
                if op & (1 << i):
                    offset |= delta[pos] << (8 * i)
                    pos += 1
            for i in range(3):
                if op & (1 << (4 + i)):
                    size |= delta[pos] << (8 * i)
                    pos += 1
            size = size or 0x10000
            if offset + size > len(base):
                raise DamagedPackError("delta copies past its base")
            out.append(base[offset:offset + size])
        elif op:  # insert the next `op` bytes
            out.append(delta[pos:pos + op])
            pos += op
        else:
            raise DamagedPackError("delta instruction 0")
    result = b"".join(out)
    if len(result) != sizes[1]:
        raise DamagedPackError("delta result of the wrong size")
    return result


class ObjectReader:
    """Objects of one object folder (and its alternates), by hex id."""

    def __init__(self, objects_dir: str | os.PathLike[str],
                 _seen: frozenset[Path] = frozenset()) -> None:
        self.path = Path(objects_dir)
        self._seen = _seen | {self.path.resolve()}  # this folder and the ones it came from
        self._packs: dict[str, Pack] = {}
        self._scanned: float | None = None
        self._lock = threading.Lock()
        self._bases: OrderedDict[tuple[str, int], tuple[int, bytes]] = OrderedDict()
        self._base_bytes = 0
        self._alternates: list[ObjectReader] | None = None

    def close(self) -> None:
        """Let go of the packs (their maps close once no read holds them)."""
        with self._lock:
            self._packs.clear()
            self._bases.clear()
            self._base_bytes = 0
            self._scanned = None
        for alternate in self._alternates or ():
            alternate.close()

    def __contains__(self, hexsha: bytes) -> bool:
        binsha = bytes.fromhex(hexsha.decode("ascii"))
        name = hexsha.decode("ascii")
        for rescan in (False, True):
            if any(p.index.offset(binsha) is not None for p in self._current_packs(rescan)):
                return True
            if os.path.exists(self.path / name[:2] / name[2:]):
                return True
        return any(hexsha in alternate for alternate in self._alternate_readers())

    def get_raw(self, hexsha: bytes) -> tuple[int, bytes]:
        """(type number, content) of an object; KeyError if it is nowhere."""
        binsha = bytes.fromhex(hexsha.decode("ascii"))
        for rescan in (False, True):
            found = self._from_packs(binsha, rescan)
            if found is not None:
                return found
            found = self._loose(hexsha)
            if found is not None:
                return found
        for alternate in self._alternate_readers():
            try:
                return alternate.get_raw(hexsha)
            except KeyError:
                continue
        raise KeyError(hexsha)

    # -- packs --------------------------------------------------------------------------------
    def _current_packs(self, rescan: bool) -> list[Pack]:
        with self._lock:
            folder = self.path / "pack"
            try:
                stamp = os.stat(folder).st_mtime
            except OSError:
                stamp = None
            if rescan or self._scanned is None or stamp != self._scanned:
                self._scan(folder)
                self._scanned = stamp
            return list(self._packs.values())

    def _scan(self, folder: Path) -> None:
        try:
            names = {n for n in os.listdir(folder) if n.endswith(".idx")}
        except OSError:
            names = set()
        for name in list(self._packs):
            if name not in names:  # repacked away: a reader still using it keeps its maps
                del self._packs[name]  # (closed when the last reference goes)
        for name in names - set(self._packs):
            try:
                self._packs[name] = Pack(folder / name)
            except (OSError, ValueError):
                continue  # being written or removed right now: seen on the next scan

    def _from_packs(self, binsha: bytes, rescan: bool) -> tuple[int, bytes] | None:
        for pack in self._current_packs(rescan):
            offset = pack.index.offset(binsha)
            if offset is not None:
                try:
                    return self._unpack(pack, offset)
                except FileNotFoundError:
                    continue  # the pack went between its index and its data: look again
        return None

    def _unpack(self, pack: Pack, offset: int) -> tuple[int, bytes]:
        try:
            return self._unpack_at(pack, offset)
        except (IndexError, struct.error):
            raise DamagedPackError(f"{pack.idx_path}: damaged entry at {offset}") from None

    def _unpack_at(self, pack: Pack, offset: int) -> tuple[int, bytes]:
        chain: list[tuple[int, int]] = []  # (data start, size) of the deltas, outermost first
        base: tuple[int, bytes] | None = None
        while base is None:
            if len(chain) > MAX_DELTA_DEPTH:
                raise DamagedPackError(f"{pack.idx_path}: delta chain too long")
            cached = self._cached_base(pack, offset)
            if cached is not None:
                base = cached
                break
            kind, size, pos, ref = pack.entry(offset)
            if kind == OFS_DELTA:
                assert isinstance(ref, int)
                chain.append((pos, size))
                offset = ref
            elif kind == REF_DELTA:
                assert isinstance(ref, bytes)
                chain.append((pos, size))
                base = self.get_raw(ref.hex().encode())
            else:
                base = (kind, pack.inflate(pos, size))
                if chain:
                    self._keep_base(pack, offset, base)
        kind, data = base
        for pos, size in reversed(chain):
            data = apply_delta(data, pack.inflate(pos, size))
        return kind, data

    def _cached_base(self, pack: Pack, offset: int) -> tuple[int, bytes] | None:
        key = (pack.idx_path.name, offset)
        with self._lock:
            hit = self._bases.get(key)
            if hit is not None:
                self._bases.move_to_end(key)
            return hit

    def _keep_base(self, pack: Pack, offset: int, base: tuple[int, bytes]) -> None:
        size = len(base[1])
        if size > BASE_CACHE_BYTES // 4:
            return
        key = (pack.idx_path.name, offset)
        with self._lock:
            old = self._bases.pop(key, None)  # two threads may inflate the same base
            if old is not None:
                self._base_bytes -= len(old[1])
            self._bases[key] = base
            self._base_bytes += size
            while self._base_bytes > BASE_CACHE_BYTES and self._bases:
                _, (_, dropped) = self._bases.popitem(last=False)
                self._base_bytes -= len(dropped)

    # -- loose objects and alternates ---------------------------------------------------------
    def _loose(self, hexsha: bytes) -> tuple[int, bytes] | None:
        name = hexsha.decode("ascii")
        try:
            with open(self.path / name[:2] / name[2:], "rb") as f:
                raw = zlib.decompress(f.read())
        except FileNotFoundError:
            return None
        except zlib.error:
            raise DamagedPackError(f"loose object {name} is damaged") from None
        header, _, data = raw.partition(b"\0")
        kind, _, size = header.partition(b" ")
        if kind not in _TYPES or not size.isdigit() or int(size) != len(data):
            raise DamagedPackError(f"loose object {name} is damaged")
        return _TYPES[kind], data

    def _alternate_readers(self) -> list[ObjectReader]:
        if self._alternates is None:
            found = []
            try:
                lines = (self.path / "info" / "alternates").read_text().splitlines()
            except OSError:
                lines = []
            for line in lines:
                line = line.strip()
                if line and not line.startswith("#") and len(self._seen) <= MAX_ALTERNATES:
                    target = Path(line) if os.path.isabs(line) else self.path / line
                    if target.resolve() not in self._seen:  # a cycle: already looked in
                        found.append(ObjectReader(target, self._seen))
            self._alternates = found
        return self._alternates
