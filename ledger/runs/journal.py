"""The journal: an append-only msgpack file per open run, so that nothing logged is lost (P1).

Each record is written with one `os.write` on an O_APPEND descriptor: it is in the kernel's
page cache when `log_metric` returns, so it survives SIGKILL of the process (not a power cut:
that is what the fsync at flush time is for). The first record is a header naming the owner
(host, boot id, pid and process start time, so that a reused pid is not taken for the owner).
A torn last record (the process died mid-write) is ignored on reading.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from ledger.errors import StorageError
from ledger.names import host_name

SUFFIX = ".journal"
OWNER = "owner"  # the process that started the run: if it dies, the run was KILLED
ATTACH = "attach"  # a process that logs into someone else's run (LEDGER_RUN_ID)

# record opcodes
CREATE, PARAM, METRIC, TAG, UNTAG, ARTIFACT, INPUT, END = "c", "p", "m", "t", "u", "a", "i", "e"


def _read_first_line(path: str) -> str:
    try:
        with open(path, encoding="ascii") as f:
            return f.readline().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> int | None:
    """Process start time in clock ticks since boot (Linux); None where unknown."""
    stat = _read_first_line(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _state(pid: int) -> str:
    stat = _read_first_line(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else ""


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


BOOT_ID = _read_first_line("/proc/sys/kernel/random/boot_id")
HOST = host_name()
PID_NS = _pid_namespace()  # containers on one host share the boot id, not the pid namespace
# A journal written elsewhere (another host, container or boot) cannot be checked by pid: it
# counts as abandoned once nobody has written to it for this long.
ABANDONED_SECONDS = float(os.environ.get("LEDGER_ABANDONED_SECONDS", "3600"))


def owner_info() -> dict[str, Any]:
    pid = os.getpid()
    if pid not in _owners:  # once per process (a forked child is another pid)
        _owners[pid] = {"host": HOST, "boot": BOOT_ID, "pidns": PID_NS, "pid": pid,
                        "pid_start": _start_time(pid)}
    return dict(_owners[pid])


_owners: dict[int, dict[str, Any]] = {}


def owner_alive(header: dict[str, Any], mtime: float | None = None) -> bool:
    """Whether the process that wrote a journal may still be running.

    On this machine (same host name, boot and pid namespace) the pid and its start time
    decide. A journal from elsewhere (a container or host sharing the volume) cannot be
    checked that way: it is taken for abandoned once it has not been written for
    ABANDONED_SECONDS (`mtime`: its last write; None counts as alive). A rebooted machine's
    journals are all abandoned.
    """
    if header.get("host") == HOST and header.get("boot") and BOOT_ID \
            and header.get("boot") != BOOT_ID:
        return False
    pidns = header.get("pidns")
    if header.get("host") != HOST or (pidns and PID_NS and pidns != PID_NS):
        return mtime is None or time.time() - mtime < ABANDONED_SECONDS
    pid = header.get("pid")
    if type(pid) is not int or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _state(pid) == "Z":  # killed but not reaped yet: it will write nothing more
        return False
    start = header.get("pid_start")
    return start is None or _start_time(pid) in (None, start)


_open: weakref.WeakSet[Journal] = weakref.WeakSet()


class Journal:
    """An open journal, written by this process only.

    A forked child inherits the parent's open journals; it must not append to them (the
    parent commits and removes its journal at the end of the run, and never sees what a child
    wrote into it). So after a fork a journal is marked, and the child's first record opens a
    journal of its own for the same run, as an attached process would (`role` attach): its
    points land in the run when the child flushes, or when the next ledger command recovers
    the journal of the exited child. The child never ends the parent's run.
    """

    def __init__(self, path: Path, fd: int, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self._fd = fd
        self._seq = 0
        self._size = 0  # bytes of complete records: a failed write is truncated back to it
        self._broken = ""  # why appending is no longer safe
        self._forked = False  # inherited from the parent process: not ours to write
        self._pack = msgpack.Packer().pack
        _open.add(self)

    @classmethod
    def create(cls, folder: Path, run_id: str, role: str,
               first: tuple[Any, ...] | None = None) -> Journal:
        """A new journal with its header (and `first` record: (op, *fields)), written before
        the journal appears under its name."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{run_id}.{os.getpid()}.{os.urandom(4).hex()}"
        path = folder / f"{name}{SUFFIX}"
        # the header is written under a temporary name first: a journal never appears
        # without one (a recovering process would take it for debris and remove it); a run's
        # creation record goes with it, so a journal never names a run without creating it
        tmp = folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        header = {"v": 1, "run": run_id, "role": role, **owner_info()}
        journal = cls(path, fd, header)
        try:
            data = journal._pack(header)
            if first is not None:
                journal._seq = 1
                data += journal._pack([1, *first])
            journal._write(data)
            os.rename(tmp, path)
        except BaseException:
            journal.close()
            remove(tmp)
            raise
        return journal

    def rotate(self) -> Journal:
        """A fresh journal for the same run and role, numbering on from this one (after a
        flush: the old one is removed once its records are committed)."""
        fresh = Journal.create(self.path.parent, self.header["run"], self.header["role"])
        fresh._seq = self._seq
        return fresh

    @property
    def owned_here(self) -> bool:
        """True if this process owns the run (not a forked child of its owner)."""
        return self.header.get("role") == OWNER and not self._forked

    def append(self, op: str, *fields: Any) -> None:
        """Write one record with one `os.write`; raise if it is not all written."""
        if self._forked:
            self._own_journal()
        data = self._pack([self._seq + 1, op, *fields])  # unpackable values fail here
        self._write(data)
        self._seq += 1

    def _write(self, data: bytes) -> None:
        if self._broken:
            raise StorageError(f"cannot write the run's journal {self.path}: {self._broken}")
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            written, reason = -1, exc.strerror or str(exc)
        else:
            reason = "the disk is full"
        if written == len(data):
            self._size += written
            return
        # a torn record must never stay in front of later ones: cut it off
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as exc:
            self._broken = f"{reason}, and it could not be repaired ({exc.strerror})"
        raise StorageError(f"could not write to the run's journal {self.path}: {reason}; "
                           "this call was not recorded (free some space and log again)")

    def _own_journal(self) -> None:
        """In a forked child: leave the parent's journal, open one of our own for the run."""
        inherited = self._fd
        child = Journal.create(self.path.parent, self.header["run"], ATTACH)
        _open.discard(child)
        self.path, self.header, self._fd = child.path, child.header, child._fd
        self._seq, self._size, self._broken, self._forked = child._seq, child._size, "", False
        child._fd = -1
        os.close(inherited)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        """Close and remove: its records are committed (a forked child that never wrote
        leaves its parent's journal alone)."""
        self.close()
        if not self._forked:
            remove(self.path)


def _after_fork_in_child() -> None:
    for jr in list(_open):
        jr._forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def remove(path: Path) -> None:
    """Remove a journal whose records are committed (or that holds none); where it cannot be
    removed (a read-only repository) it stays, and committing it again changes nothing."""
    try:
        os.unlink(path)
    except OSError:
        pass


@dataclass
class Contents:
    path: Path
    header: dict[str, Any]
    records: list[list[Any]]
    problems: list[str] = field(default_factory=list)  # damage found while reading
    mtime: float | None = None


HEADER_BYTES = 4096  # a header is ~200 bytes


def read_header(path: Path) -> dict[str, Any] | None:
    """A journal's header alone, without reading its records (which may be millions)."""
    try:
        with open(path, "rb") as f:
            data = f.read(HEADER_BYTES)
    except FileNotFoundError:
        return None
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    try:
        header = next(unpacker)
    except (StopIteration, msgpack.ExtraData, ValueError, msgpack.FormatError,
            msgpack.StackError):
        return None
    return header if isinstance(header, dict) and "run" in header else None


def read(path: Path) -> Contents | None:
    """A journal's header and every complete record; None if it holds nothing at all (or
    has vanished). Damage (bytes that do not decode, a bad header, records out of sequence)
    is reported in `problems`, never raised: what decodes is kept."""
    try:
        data = path.read_bytes()
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=0)
    unpacker.feed(data)
    items: list[Any] = []
    problems: list[str] = []
    try:
        for item in unpacker:
            items.append(item)
    except Exception as exc:  # msgpack raises many kinds on damaged bytes
        problems.append(f"undecodable bytes ({type(exc).__name__})")
    left = len(data) - unpacker.tell()
    if left and not problems:
        problems.append(f"{left} bytes at the end do not form a record")
    if not items:
        return None if not data else Contents(path, {}, [], problems or ["no header"], mtime)
    header = items[0] if isinstance(items[0], dict) else {}
    why = header_problem(header, path)
    if why:
        problems.append(why)
    records: list[list[Any]] = []
    last = 0
    for n, item in enumerate(items[1:], 1):
        if not (isinstance(item, list) and len(item) >= 2 and type(item[0]) is int
                and item[0] > last):
            problems.append(f"item {n}: not a record in sequence")
            continue
        if item[0] != last + 1:
            problems.append(f"records {last + 1}..{item[0] - 1} are missing")
        last = item[0]
        records.append(item)
    return Contents(path, header, records, problems, mtime)


def header_problem(header: dict[str, Any], path: Path) -> str:
    """Why a journal header cannot be trusted ("" if it can)."""
    run = header.get("run")
    if not isinstance(run, str) or not path.name.startswith(run + ".") or len(run) != 32:
        return "the header does not name this journal's run"
    if header.get("role") not in (OWNER, ATTACH):
        return "the header has no valid role"
    return ""


def scan(folder: Path) -> Iterator[Path]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(names):
        if name.endswith(SUFFIX):
            yield folder / name


def for_run(folder: Path, run_id: str) -> list[Path]:
    return [p for p in scan(folder) if p.name.startswith(run_id + ".")]
