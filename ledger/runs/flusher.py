"""One daemon thread per process that commits live runs on time, even when the process is
idle (a notebook kernel between cells), so that other processes see them; logging calls
never commit, so none of them waits for git.

A run is registered when it opens and leaves when its end is committed; a run whose end
failed (e.g. a second Ctrl-C) stays, and its end is retried here and at exit.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Protocol


class Flushable(Protocol):
    def due(self) -> float:
        """The monotonic time of the next flush."""
        ...

    def background_flush(self) -> None:
        """Commit what is due; never raises (what fails stays journaled and buffered)."""
        ...


class Flusher:
    def __init__(self) -> None:
        self._runs: set[Flushable] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False

    def add(self, run: Flushable) -> None:
        with self._lock:
            self._runs.add(run)
            if self._thread is None:
                self._pid = os.getpid()
                self._stopping = False
                self._thread = threading.Thread(target=self._loop, name="ledger-flush",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def _forked(self) -> None:
        """In a forked child: the parent's runs are the parent's to commit, not ours."""
        self._runs = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def discard(self, run: Flushable) -> None:
        with self._lock:
            self._runs.discard(run)

    def runs(self) -> list[Flushable]:
        with self._lock:
            return list(self._runs)

    def stop(self, timeout: float = 30.0) -> None:
        """At exit: let a flush in progress finish, start no other."""
        thread = self._thread
        self._stopping = True
        self._wake.set()
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            for run in self.runs():
                if self._stopping:
                    return
                if run.due() <= now:
                    run.background_flush()
            pending = [run.due() for run in self.runs()]
            wait = min(pending) - time.monotonic() if pending else None
            self._wake.wait(None if wait is None else max(wait, 0.05))
            self._wake.clear()


FLUSHER = Flusher()
atexit.register(FLUSHER.stop)
os.register_at_fork(after_in_child=FLUSHER._forked)
