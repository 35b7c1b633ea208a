"""A run open in this process: every call is journaled first (P1), committed at flush (P7).

`log_metric` costs one validation, one msgpack record and one `os.write`; the commit happens
at the end of the run, on `flush()`, and every LEDGER_FLUSH_SECONDS while the run is live, in
the process's flush thread (ledger/runs/flusher.py), never inside a logging call.

Threads: every call checks that the run is open and journals under one lock, and `end()`
closes the run under that same lock before it takes the buffers, so a call either lands in
the run or raises RunStateError; it is never acknowledged and then dropped. Each flush moves
on to a fresh journal file and removes the old one once its records are committed, so a
live journal holds only what is not committed yet.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import names
from ledger.errors import InvalidInputError, RunStateError
from ledger.runs import journal, settings
from ledger.runs.flusher import FLUSHER
from ledger.runs.record import Point, RunRecord, merge
from ledger.runs.store import FLUSH_EVENT, Update, artifact_clash

if TYPE_CHECKING:
    from ledger.runs.lifecycle import Runs

class ActiveRun:
    """A run this process logs into. Use it as a context manager, or call `end()`."""

    def __init__(self, ledger: Runs, record: RunRecord, jr: journal.Journal,
                 files: dict[str, bytes] | None = None, owner: bool = True,
                 artifact_paths: Iterable[str] = ()) -> None:
        self._ledger = ledger
        self._record = record
        self._journal = jr
        self._owner = owner
        self._points: list[Point] = []
        self._artifacts: dict[str, tuple[bytes, int]] = {}
        self._files: dict[str, bytes] = dict(files or {})
        self._lock = threading.Lock()  # one commit at a time
        self._buffer = threading.Lock()  # journal, record and buffers, between threads
        self._artifact_paths = set(artifact_paths)
        self._interval = settings.flush_seconds()  # as it is when the run starts
        self._next_flush = time.monotonic() + self._interval
        self._dirty = False  # something journaled since the last commit
        self._retired: list[journal.Journal] = []  # rotated away, removed once committed
        self._closed = False  # no more logging: end() has begun
        self._final: str | None = None  # the status end() decided (owner)
        self._ended = False  # the end is committed
        self.error: BaseException | None = None  # why the last background flush failed
        self.id = record.id
        self.on_end: list[Callable[[ActiveRun], None]] = []
        FLUSHER.add(self)

    # -- information --------------------------------------------------------------------------
    @property
    def info(self) -> Any:
        return self._ledger.get_run(self.id).info

    @property
    def data(self) -> Any:
        """MLflow habit: the run's params, latest metrics and tags as logged so far."""
        return self._ledger.get_run(self.id).data

    @property
    def ledger(self) -> Runs:
        """The repository this run belongs to (wherever the process goes since)."""
        return self._ledger

    @property
    def ended(self) -> bool:
        """True once the end is committed."""
        return self._ended

    @property
    def closed(self) -> bool:
        """True once `end()` has begun: logging raises from then on."""
        return self._closed

    @property
    def owner(self) -> bool:
        """True if this process started the run (its end decides the status)."""
        return self._owner

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} {self._record.experiment!r} {self._record.name!r}>"

    # -- logging ------------------------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int = 0,
                   timestamp: int | None = None) -> None:
        if type(key) is not str or key not in names._valid_keys:
            names.check_key(key, "metric key")
        if type(value) is not float:
            value = names.metric_value(key, value)
        if type(step) is not int or not -(2**63) <= step < 2**63:
            step = names.check_step(step)
        ts = time.time_ns() // 1_000_000 if timestamp is None else names.check_timestamp(timestamp)
        with self._buffer:
            self._check_open()
            self._journal.append(journal.METRIC, key, value, step, ts)
            self._points.append((key, step, ts, value))
            self._dirty = True

    def log_metrics(self, metrics: dict[str, float], step: int = 0,
                    timestamp: int | None = None) -> None:
        ts = time.time_ns() // 1_000_000 if timestamp is None else timestamp
        checked = [(names.check_key(k, "metric key"), names.metric_value(k, v))
                   for k, v in metrics.items()]
        for key, value in checked:
            self.log_metric(key, value, step, ts)

    def log_param(self, key: str, value: Any) -> Any:
        self.log_params({key: value})
        return value

    def log_params(self, params: dict[str, Any]) -> None:
        checked = {names.check_key(k, "param key"): names.param_value(v)
                   for k, v in params.items()}
        with self._buffer:
            self._check_open()
            probe = RunRecord(id=self.id, params=dict(self._record.params))
            for key, value in checked.items():  # all or nothing
                probe.set_param(key, value)
            for key, value in checked.items():  # journaled first: a refused write changes nothing
                if key not in self._record.params:
                    self._journal.append(journal.PARAM, key, value)
                    self._record.set_param(key, value)
                    self._dirty = True

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        checked = {names.check_key(k, "tag key"): names.tag_value(v) for k, v in tags.items()}
        with self._buffer:
            self._check_open()
            for key, value in checked.items():
                clock = self._record.next_clock()
                self._journal.append(journal.TAG, key, value, *clock)
                self._record.set_tag(key, value, clock)
                self._dirty = True

    def delete_tag(self, key: str) -> None:
        names.check_key(key, "tag key")
        with self._buffer:
            self._check_open()
            clock = self._record.next_clock()
            self._journal.append(journal.UNTAG, key, *clock)
            self._record.delete_tag(key, clock)
            self._dirty = True

    def log_artifact(self, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Store a file under `artifacts/[artifact_path/]<file name>`, as MLflow does."""
        src = Path(local_path)
        if not src.is_file():
            raise InvalidInputError(f"artifact {str(local_path)!r} is not a file")
        dest = src.name if artifact_path is None else f"{artifact_path}/{src.name}"
        self._add_artifacts([(src, names.check_artifact_path(dest))])

    def log_artifacts(self, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Store every file below a folder, keeping the layout, under `artifact_path`."""
        src = Path(local_dir)
        if not src.is_dir():
            raise InvalidInputError(f"artifact folder {str(local_dir)!r} is not a folder")
        pairs = []
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = file.relative_to(src).as_posix()
            dest = rel if artifact_path is None else f"{artifact_path}/{rel}"
            pairs.append((file, names.check_artifact_path(dest)))
        self._add_artifacts(pairs)

    def log_text(self, text: str, artifact_file: str) -> None:
        self._add_bytes(names.check_text(text, "text").encode("utf-8"), artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        """JSON (or YAML for .yaml/.yml, where PyYAML is installed) as an artifact."""
        if artifact_file.endswith((".yaml", ".yml")):
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError:
                raise InvalidInputError(
                    "log_dict to YAML needs PyYAML; use a .json file name or install pyyaml"
                ) from None
            data = names.check_text(yaml.safe_dump(dictionary, sort_keys=False),
                                    "dictionary").encode()
        else:
            data = names.check_text(json.dumps(dictionary, indent=2, ensure_ascii=False),
                                    "dictionary").encode() + b"\n"
        self._add_bytes(data, artifact_file)

    def log_input(self, path: str | os.PathLike[str], context: str | None = None,
                  store: bool = False) -> None:
        """Record a dataset fingerprint (path, digest, size) for lineage; ``store=True`` also
        keeps the file in the store of large files, so `ledger reproduce` can fetch it."""
        self._check_open()
        self.log_input_entry(self._ledger._fingerprint(path, context, store))

    def log_input_entry(self, entry: dict[str, Any]) -> None:
        """Record an input fingerprint already made (`{"path", "digest", "size", …}`)."""
        self._check_open()
        with self._buffer:
            self._check_open()
            self._journal.append(journal.INPUT, entry)
            self._record.add_input(entry)
            self._dirty = True

    def _add_bytes(self, data: bytes, artifact_file: str) -> None:
        dest = names.check_artifact_path(artifact_file)
        self._check_open()
        self._check_clashes([dest])
        self._journal_artifacts([dest], [self._ledger._store_blob(data)])

    def _add_artifacts(self, pairs: list[tuple[Path, str]]) -> None:
        self._check_open()
        self._check_clashes([dest for _, dest in pairs])
        self._journal_artifacts([d for _, d in pairs],
                                self._ledger._store_files([p for p, _ in pairs]))

    def _check_clashes(self, paths: list[str]) -> None:
        """A file cannot also be a folder: refuse before anything is journaled."""
        seen = set(self._artifact_paths)
        for path in paths:
            other = artifact_clash(path, seen)
            if other is not None:
                raise InvalidInputError(
                    f"artifact path {path!r} clashes with the artifact {other!r} "
                    "(a file cannot also be a folder)")
            seen.add(path)

    def _journal_artifacts(self, paths: list[str], stored: list[tuple[bytes, int]]) -> None:
        with self._buffer:
            self._check_open()
            self._dirty = True
            for dest, (sha, size) in zip(paths, stored):
                self._journal.append(journal.ARTIFACT, dest, sha.decode(), size)
                self._artifacts[dest] = (sha, size)
                self._artifact_paths.add(dest)

    def _check_open(self) -> None:
        if self._closed:
            raise RunStateError(f"run {self.id} has ended; start a new run to log more")

    # -- committing ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Commit what is journaled so far (the run stays RUNNING)."""
        with self._lock:
            self._commit(end=False)

    def publish(self) -> None:
        """Commit the run now even if nothing was logged since it started (a flush commits
        only what is new), so that searches see a run that was just created."""
        with self._lock:
            if self._ended or self._closed:
                return
            with self._buffer:
                self._dirty = True
            self._commit(end=False)

    def due(self) -> float:
        """When the flush thread should next commit this run (monotonic seconds)."""
        return self._next_flush

    def background_flush(self) -> None:
        """The flush thread's call: commit if something is new, or retry an end that failed.
        It never waits for a commit in progress and never raises: what fails stays in the
        journal and the buffers, and is tried again at the next interval."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._next_flush = time.monotonic() + self._interval
            if self._ended:
                return
            if self._closed:
                self._finish(self._final or "FINISHED")
            else:
                self._commit(end=False)
            self.error = None
        except Exception as exc:
            self.error = exc
        finally:
            self._lock.release()

    def end(self, status: str = "FINISHED") -> None:
        """End the run (owner) or hand back what this process logged (attached).

        If the commit fails or is interrupted (a second Ctrl-C), the run is still closed and
        off the thread's stack, so the next run can start; its journal keeps everything, and
        the end is retried by the flush thread, at exit, or by the next command after this
        process has gone. An interrupted end records KILLED."""
        status = names.check_status(status)
        try:
            with self._lock:
                if not self._ended:
                    self._finish(status)
        finally:
            for callback in self.on_end:
                callback(self)

    def _finish(self, status: str) -> None:
        owner = self._owner and self._journal.owned_here  # a forked child never ends it
        with self._buffer:  # stop accepting first: a later call raises, none is dropped
            self._closed = True
            if owner and self._final is None:
                self._set_final(status)
        try:
            self._commit(end=owner)
        except KeyboardInterrupt:
            if owner and self._final != "KILLED":
                with self._buffer:
                    self._set_final("KILLED")
            raise
        self._ended = True
        self._journal.discard()
        FLUSHER.discard(self)

    def _set_final(self, status: str) -> None:
        clock = self._record.next_clock()
        end_time = time.time_ns() // 1_000_000
        self._journal.append(journal.END, status, end_time, *clock)  # journaled first
        self._record.finish(status, end_time, clock)
        self._final = status
        self._dirty = True

    def _commit(self, end: bool) -> None:
        with self._buffer:  # take the buffers; other threads go on logging into new ones
            if not self._dirty and not end:
                return
            snapshot = self._record.copy()
            points, self._points = self._points, []
            artifacts, self._artifacts = self._artifacts, {}
            files, self._files = self._files, {}
            retired, self._retired = self._retired, []
            if not self._closed:  # what follows goes to a fresh journal; this one goes
                # once its records are committed
                retired.append(self._journal)
                self._journal = self._journal.rotate()
            self._dirty = False

        def change(current: RunRecord | None) -> RunRecord:
            return snapshot if current is None else merge(current, snapshot)

        event = snapshot.status.lower() if end else FLUSH_EVENT
        update = Update(self.id, change, points=points, compact=end, artifacts=artifacts,
                        files=files, event=event)
        try:
            self._ledger.store.commit([update])
        except BaseException:
            with self._buffer:  # not committed: keep them for the next try (and the journal)
                self._points[:0] = points
                self._artifacts = {**artifacts, **self._artifacts}
                self._files = {**files, **self._files}
                self._retired[:0] = retired
                self._dirty = True
            raise
        for old in retired:
            old.discard()
        self._next_flush = time.monotonic() + self._interval

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        self.end(status)
