"""The ledger's packs: each batch of objects is written as one small pack, and the ledger's
own packs are merged geometrically so that a long sweep leaves a bounded number of files.

- `write_pack` writes a pack and its version-2 index as git does (a temp file in the pack
  folder, renamed into place, the index last: a pack is visible only once whole). Two files per
  batch instead of one loose file per object (a file creation costs 10-100 times the hashing).
- The packs the ledger wrote (or fetched) are listed in `.git/ledger/packs`; nothing else is
  ever merged or deleted. When there are more than `LEDGER_MAX_PACKS` (16), a background
  process merges the smallest ones with `git pack-objects` (deltas included, so the merged
  pack is about as small as `git gc` would make it), in git's `repack --geometric=2` way: a
  pack stays unless it is smaller than twice the packs below it, so every object is rewritten
  O(log n) times. The merged packs are deleted only once the new pack, checked to hold all
  of their objects, is in place. A logging call never waits for it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import time
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from ledger.store.flock import FileLock, busy
from ledger.store.git import git_env

MAX_PACKS = 16  # the ledger's packs beyond which it merges (LEDGER_MAX_PACKS)
LINGER_SECONDS = 0.5  # a background merge waits this long for more packs before it exits
RETRY_SECONDS = 60.0  # after a failed merge, the next one waits this long
OWNED_FILE = "packs"  # in .git/ledger/: names of the packs the ledger wrote, one a line
_IDX_MAGIC = b"\377tOc"
_FACTOR = 2

# A pack entry: (git type number, raw object content, binary object id).
Entry = tuple[int, bytes, bytes]


def _header(type_num: int, size: int) -> bytes:
    out = bytearray()
    byte = (type_num << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def _index(entries: list[tuple[bytes, int, int]], pack_sha: bytes) -> bytes:
    """A version-2 pack index for (binary id, crc32, offset) entries."""
    entries.sort()
    counts = [0] * 256
    for sha, _, _ in entries:
        counts[sha[0]] += 1
    fanout, total = [], 0
    for c in counts:
        total += c
        fanout.append(total)
    large: list[int] = []
    small: list[int] = []
    for _, _, offset in entries:
        if offset < 0x80000000:
            small.append(offset)
        else:
            small.append(0x80000000 | len(large))
            large.append(offset)
    n = len(entries)
    out = bytearray(_IDX_MAGIC + struct.pack(">I", 2))
    out += struct.pack(">256I", *fanout)
    out += b"".join(sha for sha, _, _ in entries)
    out += struct.pack(f">{n}I", *(crc for _, crc, _ in entries))
    out += struct.pack(f">{n}I", *small)
    out += struct.pack(f">{len(large)}Q", *large)
    out += pack_sha
    out += hashlib.sha1(out).digest()
    return bytes(out)


def _write_file(folder: Path, name: str, data: bytes) -> None:
    # not store/files.write_atomic: in the pack folder a temporary file must be named as git
    # names its own (`tmp_pack_*`, which `git prune` cleans up after a crash) and be
    # read-only like every pack; anything else there is "garbage" to `git count-objects`
    tmp = folder / f"tmp_pack_{os.getpid()}_{os.urandom(4).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_pack(pack_dir: Path, objects: Sequence[Entry]) -> str:
    """Write `objects` (no duplicates) as one pack; returns its name (`pack-<hex>`)."""
    buf = bytearray(b"PACK" + struct.pack(">II", 2, len(objects)))
    entries: list[tuple[bytes, int, int]] = []
    for type_num, data, binsha in objects:
        chunk = _header(type_num, len(data)) + zlib.compress(data)
        entries.append((binsha, zlib.crc32(chunk), len(buf)))
        buf += chunk
    pack_sha = hashlib.sha1(buf).digest()
    buf += pack_sha
    name = f"pack-{pack_sha.hex()}"
    pack_dir.mkdir(parents=True, exist_ok=True)
    _write_file(pack_dir, name + ".pack", bytes(buf))
    _write_file(pack_dir, name + ".idx", _index(entries, pack_sha))  # last: makes it visible
    return name


def index_ids(idx: Path) -> list[bytes]:
    """The binary object ids in a version-2 pack index."""
    data = idx.read_bytes()
    if data[:4] != _IDX_MAGIC:
        raise ValueError(f"{idx} is not a version-2 pack index")
    n = struct.unpack_from(">I", data, 8 + 255 * 4)[0]
    start = 8 + 1024
    return [data[start + 20 * i:start + 20 * (i + 1)] for i in range(n)]


def index_count(idx: Path) -> int:
    with open(idx, "rb") as f:
        f.seek(8 + 255 * 4)
        return int(struct.unpack(">I", f.read(4))[0])


# -- the packs the ledger owns ----------------------------------------------------------------
class Packs:
    """The ledger's own packs of one repository."""

    def __init__(self, objects_dir: Path, ledger_dir: Path | None = None) -> None:
        self.objects_dir = objects_dir
        self.pack_dir = objects_dir / "pack"
        self.ledger_dir = ledger_dir or objects_dir.parent / "ledger"
        self.list_path = self.ledger_dir / OWNED_FILE
        self._list_lock = self.ledger_dir / "packs.lock"  # guards the list
        self._merge_lock = self.ledger_dir / "repack.lock"  # one consolidation at a time
        self._failed = self.ledger_dir / "repack.failed"  # when the last merge failed

    def write(self, objects: Sequence[Entry]) -> str:
        """Write a pack and remember it as the ledger's."""
        name = write_pack(self.pack_dir, objects)
        self.adopt([name])
        return name

    def adopt(self, names: Iterable[str]) -> None:
        """Count packs as the ledger's (written or fetched by it)."""
        text = "".join(f"{n}\n" for n in names)
        if not text:
            return
        with FileLock(self._list_lock, shared=True):  # appends may run side by side
            try:
                fd = os.open(self.list_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except FileNotFoundError:
                self.ledger_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.list_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)

    def present(self) -> set[str]:
        """Names of every pack in the repository now."""
        try:
            return {n[:-4] for n in os.listdir(self.pack_dir) if n.endswith(".idx")}
        except FileNotFoundError:
            return set()

    def adopt_new(self, before: set[str]) -> None:
        """Count the packs that appeared since `before` (a fetch's) as the ledger's."""
        self.adopt(sorted(self.present() - before))
        self.maybe_merge()

    def listed(self) -> list[str]:
        try:
            text = self.list_path.read_text()
        except FileNotFoundError:
            return []
        return list(dict.fromkeys(line for line in text.split("\n") if line))

    def owned(self, listed: list[str] | None = None) -> dict[str, int]:
        """The ledger's packs still present and free to merge: name -> objects."""
        found: dict[str, int] = {}
        for name in self.listed() if listed is None else listed:
            base = self.pack_dir / name
            # kept, promisor and cruft packs mean something to git: never merge them
            if any(base.with_suffix(s).exists() for s in (".keep", ".promisor", ".mtimes")):
                continue
            if not base.with_suffix(".pack").exists():
                continue
            try:
                found[name] = index_count(base.with_suffix(".idx"))
            except (OSError, struct.error):
                continue
        return found

    # -- consolidation ------------------------------------------------------------------------
    def needs_merge(self) -> bool:
        try:
            lines = self.list_path.read_bytes().count(b"\n")
        except FileNotFoundError:
            return False
        return lines > max_packs()

    def maybe_merge(self) -> None:
        """After a write: start a background merge if the ledger has too many packs."""
        if (not self.needs_merge() or _merging(self.objects_dir) or self._failed_lately()
                or busy(self._merge_lock)):
            return
        if os.environ.get("LEDGER_PACKS_INLINE") or not hasattr(os, "posix_spawn"):
            self.merge()
            return
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join(p for p in (package_root,
                                                         os.environ.get("PYTHONPATH")) if p)}
        # posix_spawn (vfork) costs a fraction of fork() in a process that loaded pyarrow;
        # its own session: the merge survives a Ctrl-C of the logging process
        pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "ledger.store.packs",
                                              str(self.objects_dir), str(self.ledger_dir)],
                             env, setsid=True, file_actions=_DEVNULL_STDIO)
        _children[self.objects_dir] = pid

    def _failed_lately(self) -> bool:
        """A merge failed a moment ago (e.g. a damaged pack): do not start one per commit."""
        try:
            return time.time() - self._failed.stat().st_mtime < RETRY_SECONDS
        except FileNotFoundError:
            return False

    def wait(self) -> None:
        """Block until no consolidation is running (for tests and benchmarks)."""
        with FileLock(self._merge_lock):
            pass

    def merge(self, everything: bool = False) -> str | None:
        """Merge the smallest of the ledger's packs (all of them with `everything`) into one;
        returns the new pack's name, or None if there was nothing to do or another process (or
        `git gc`) is merging."""
        if (self.objects_dir.parent / "gc.pid").exists():
            return None  # the user's `git gc` is repacking everything right now
        lock = FileLock(self._merge_lock)
        if not lock.acquire(blocking=False):
            return None
        try:
            listed = self.listed()
            owned = self.owned(listed)
            vanished = set(listed) - set(owned)  # deleted by `git gc`, or kept by a .keep
            chosen = _geometric(owned, everything)
            if len(chosen) < 2:
                self._rewrite_list(vanished, ())
                return None
            ids: dict[bytes, None] = {}
            for name in chosen:
                ids.update(dict.fromkeys(index_ids(self.pack_dir / f"{name}.idx")))
            new = self._pack_objects(ids)
            if new is None:
                self._failed.touch()
                return None
            gone = [n for n in chosen if n != new]
            self._rewrite_list(vanished | set(gone), (new,))
            for name in gone:  # the index first: from then on nobody opens the pack
                for suffix in (".idx", ".pack", ".rev", ".bitmap"):
                    (self.pack_dir / f"{name}{suffix}").unlink(missing_ok=True)
            return new
        finally:
            lock.release()

    def _pack_objects(self, ids: dict[bytes, None]) -> str | None:
        """`git pack-objects` over exactly `ids`; the new pack's name once checked whole."""
        import subprocess  # here: a commit that merges nothing starts without it

        stdin = "".join(f"{sha.hex()}\n" for sha in ids).encode()
        proc = subprocess.run(
            ["git", "--git-dir", str(self.objects_dir.parent), "pack-objects", "-q",
             "--non-empty", str(self.pack_dir / "pack")],
            input=stdin, capture_output=True, check=False,
            env=git_env())
        name = f"pack-{proc.stdout.decode().strip()}"
        if proc.returncode != 0 or len(name) != 45:
            return None
        idx = self.pack_dir / f"{name}.idx"
        if set(index_ids(idx)) != set(ids):  # never delete what the new pack lacks
            return None
        return name

    def _rewrite_list(self, drop: set[str], add: Sequence[str]) -> None:
        with FileLock(self._list_lock):
            kept = [n for n in self.listed() if n not in drop or n in add]
            kept += [n for n in add if n not in kept]
            tmp = self.list_path.with_name(f"{OWNED_FILE}.{os.getpid()}.tmp")
            tmp.write_text("".join(f"{n}\n" for n in kept))
            os.replace(tmp, self.list_path)


def max_packs() -> int:
    return int(os.environ.get("LEDGER_MAX_PACKS") or MAX_PACKS)


_children: dict[Path, int] = {}  # the merge this process started last, per repository
_DEVNULL_STDIO = [(getattr(os, "POSIX_SPAWN_OPEN", 0), fd, os.devnull, os.O_RDWR, 0)
                  for fd in (0, 1, 2)]


def _merging(objects_dir: Path) -> bool:
    """True while the merge this process started for the repository still runs (reaped when
    it is done, so that no zombie is left)."""
    pid = _children.get(objects_dir)
    if pid is None:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = pid
    if done:
        del _children[objects_dir]
        return False
    return True


def _geometric(owned: dict[str, int], everything: bool) -> list[str]:
    """The packs to roll up: the smallest ones, until the next is at least twice their sum."""
    ordered = sorted(owned, key=lambda n: (owned[n], n))
    if everything:
        return ordered
    if len(ordered) <= max_packs():
        return []
    total, k = 0, 0
    while k < len(ordered) and (k < 2 or owned[ordered[k]] < _FACTOR * total):
        total += owned[ordered[k]]
        k += 1
    return ordered[:k]


def main(argv: Sequence[str]) -> int:
    """`python -m ledger.store.packs OBJECTS_DIR LEDGER_DIR`: one background consolidation."""
    objects_dir, ledger_dir = Path(argv[0]), Path(argv[1])
    packs = Packs(objects_dir, ledger_dir)
    idle_until = time.monotonic() + LINGER_SECONDS
    while time.monotonic() < idle_until:  # a sweep goes on writing: stay a moment for it
        if packs.needs_merge():
            try:
                merged = packs.merge()
            except (OSError, ValueError, struct.error):
                packs._failed.touch()
                return 1
            if merged is None:
                return 0
            idle_until = time.monotonic() + LINGER_SECONDS
        else:
            time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
