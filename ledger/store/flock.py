"""Advisory locks between ledger processes of one machine (fcntl.flock).

They only schedule work (writers queue in the kernel instead of racing; one consolidation at a
time); correctness never depends on them: a ref still moves only by compare-and-swap under
git's lock file. The kernel drops a flock when its holder dies, so a flock is never stale.
Where flock does not exist (Windows), the locks are no-ops.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]


class FileLock:
    """`with FileLock(path):` holds an exclusive flock on `path` (created if missing)."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        self.path = path
        self._shared = shared
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; False if `blocking` is off and another process holds it."""
        if fcntl is None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        flags = fcntl.LOCK_SH if self._shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, flags | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None or fcntl is None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def busy(path: Path) -> bool:
    """True if another process holds the lock on `path` right now."""
    lock = FileLock(path)
    if not lock.acquire(blocking=False):
        return True
    lock.release()
    return False
