"""The journal: an append-only msgpack file per open run, so that nothing logged is lost (P1).

Each record is written with one `os.write` on an O_APPEND descriptor: it is in the kernel's
page cache when `log_metric` returns, so it survives SIGKILL of the process (not a power cut:
that is what the fsync at flush time is for). The first record is a header naming the owner
(host, boot id, pid and process start time, so that a reused pid is not taken for the owner).
A torn last record (the process died mid-write) is ignored on reading.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

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


BOOT_ID = _read_first_line("/proc/sys/kernel/random/boot_id")
HOST = socket.gethostname()


def owner_info() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": HOST, "boot": BOOT_ID, "pid": pid, "pid_start": _start_time(pid)}


def owner_alive(header: dict[str, Any]) -> bool:
    """Whether the process that wrote a journal may still be running.

    A journal from another host is never ours to judge, so it counts as alive.
    """
    if header.get("host") != HOST:
        return True
    if header.get("boot") and BOOT_ID and header.get("boot") != BOOT_ID:
        return False
    pid = int(header.get("pid", 0))
    if pid <= 0:
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


class Journal:
    """An open journal, written by this process only."""

    def __init__(self, path: Path, fd: int, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self._fd = fd
        self._seq = 0
        self._pack = msgpack.Packer().pack

    @classmethod
    def create(cls, folder: Path, run_id: str, role: str) -> Journal:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{run_id}.{os.getpid()}.{secrets.token_hex(4)}"
        path = folder / f"{name}{SUFFIX}"
        # the header is written under a temporary name first: a journal never appears
        # without one (a recovering process would take it for debris and remove it)
        tmp = folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        header = {"v": 1, "run": run_id, "role": role, **owner_info()}
        journal = cls(path, fd, header)
        os.write(fd, journal._pack(header))
        os.rename(tmp, path)
        return journal

    def rotate(self) -> Journal:
        """A fresh journal for the same run and role, numbering on from this one (after a
        flush: the old one is removed once its records are committed)."""
        fresh = Journal.create(self.path.parent, self.header["run"], self.header["role"])
        fresh._seq = self._seq
        return fresh

    def append(self, op: str, *fields: Any) -> None:
        self._seq += 1
        os.write(self._fd, self._pack([self._seq, op, *fields]))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        """Close and remove: its records are committed."""
        self.close()
        remove(self.path)


def remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@dataclass
class Contents:
    path: Path
    header: dict[str, Any]
    records: list[list[Any]]


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
    """A journal's header and every complete record; None if it has no valid header."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    items: list[Any] = []
    try:
        for item in unpacker:
            items.append(item)
    except (msgpack.ExtraData, ValueError, msgpack.FormatError, msgpack.StackError):
        pass  # a torn or damaged tail: keep what came before it
    if not items or not isinstance(items[0], dict) or "run" not in items[0]:
        return None
    records = [r for r in items[1:] if isinstance(r, list) and len(r) >= 2]
    return Contents(path, items[0], records)


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
