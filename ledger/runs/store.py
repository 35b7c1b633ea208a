"""Runs as folders on `refs/ledger/runs`: read them, and commit changes by compare-and-swap.

Layout of the ref's tree (one folder per run, fanned out on the random end of the id):

    runs/<last 2 hex of id>/<id>/run.json            the record (schemas/run.schema.json)
                                 metrics.parquet     metric history once the run has ended
                                 metrics/<h2>/<h>.parquet  chunks appended while it is live
                                 artifacts/...       artifact files as blobs
                                 environment.json    installed packages (shared blob)
                                 source.patch        the dirty patch, when the tree was dirty

A commit rewrites only the trees on the paths of the runs it touches (P4). Chunks are fanned
out on their hash, so a flush of a run that lives for days rewrites trees of bounded size,
not a `metrics/` tree listing every earlier chunk.

Flushes of live runs stay off the audit log's first-parent line: a flush commit names in a
trailer the last event commit below it, and the next commit (event or flush) takes that one
as its first parent and the flush as its second, so `git log --first-parent refs/ledger/runs`
shows one line per event, and at most one flush at the top, however often a long run
flushes (plain `git log` shows every flush).
"""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dulwich.objects import Blob, Commit, ObjectID

from ledger import names
from ledger.errors import (
    AmbiguousRunIdError,
    DamagedRunError,
    InvalidInputError,
    RunNotFoundError,
)
from ledger.runs import notes
from ledger.runs.record import Point, RunRecord, canonical_points, float_to_json
from ledger.store import parquet, trees
from ledger.store.gitdir import GitDir
from ledger.store.identity import identity
from ledger.store.objects import FILE_MODE, ObjectStore, Written, blob
from ledger.store.refs import Refs

RUNS_REF = names.RUNS_REF.encode()
RUN_FILE = names.RUN_FILE
METRICS_FILE = "metrics.parquet"
CHUNKS_DIR = "metrics"
ARTIFACTS_DIR = "artifacts"
CHUNK_POINTS = 16_384  # metric points per chunk file, at most
FLUSH_EVENT = "flushed"
BASE_TRAILER = "Ledger-Event-Base: "  # in a flush commit: the event commit below it


def chunk_path(sha: bytes) -> str:
    """Where a metric chunk goes in a run folder: fanned out on its blob id."""
    hexsha = sha.decode()
    return f"{CHUNKS_DIR}/{hexsha[:2]}/{hexsha[2:16]}.parquet"


@dataclass
class Folder:
    """A run folder found in a tree."""

    run_id: str
    tree: bytes
    record: RunRecord


@dataclass
class Update:
    """A change to one run; applied to the run as found at the head, again on every retry."""

    run_id: str
    change: Callable[[RunRecord | None], RunRecord]  # returns a new or modified record
    points: list[Point] = field(default_factory=list)
    compact: bool = False  # rewrite all metric points as one file (the run has ended)
    artifacts: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path -> (sha, size)
    files: dict[str, bytes] = field(default_factory=dict)  # other files: name -> blob sha
    event: str = "updated"
    strict: bool = True  # False when recovering: skip what cannot be stored, keep the rest


@dataclass(eq=False)
class _Ticket:
    """Updates of one `commit` call waiting for a group commit, and their outcome."""

    updates: list[Update]
    done: bool = False
    head: bytes | None = None
    error: Exception | None = None


class RunStore:
    def __init__(self, gitdir: GitDir) -> None:
        self.gitdir = gitdir
        self.objects = ObjectStore(gitdir.objects_dir)
        self.refs = Refs(gitdir.common_dir)
        self._noted: set[str] = set()  # runs this handle has put in the git notes
        self._commits: set[str] = set()  # source commits found in the repository
        self.full_notes: set[str] = set()  # source commits whose note lists NOTE_RUNS runs
        self._queue: list[_Ticket] = []  # updates waiting for the next group commit
        self._queue_lock = threading.Lock()
        self._committer = threading.Lock()  # one committing thread at a time

    # -- reading ------------------------------------------------------------------------------
    def head(self) -> bytes | None:
        return self.refs.get(RUNS_REF)

    def root(self, head: bytes | None) -> bytes | None:
        return None if head is None else self.objects.commit(head).tree

    def folder_tree(self, root: bytes | None, run_id: str) -> bytes | None:
        if root is None:
            return None
        found = self.objects.lookup(root, names.run_dir(run_id))
        return found[1] if found and stat.S_ISDIR(found[0]) else None

    def load(self, root: bytes | None, run_id: str) -> Folder | None:
        tree = self.folder_tree(root, run_id)
        if tree is None:
            return None
        entry = self.objects.lookup(tree, RUN_FILE)
        if entry is None:
            return None
        return Folder(run_id, tree, checked_record(self.objects.blob_bytes(entry[1]), run_id))

    def run_ids(self, root: bytes | None) -> Iterator[str]:
        if root is None:
            return
        runs = self.objects.lookup(root, "runs")
        if runs is None:
            return
        for fan in self.objects.tree(runs[1]).iteritems():
            if stat.S_ISDIR(fan.mode):
                for entry in self.objects.tree(fan.sha).iteritems():
                    yield entry.path.decode()

    def folders(self, root: bytes | None, damaged: list[str] | None = None
                ) -> Iterator[Folder]:
        """Every run folder; a damaged one is skipped (its id added to `damaged`)."""
        for run_id in self.run_ids(root):
            try:
                folder = self.load(root, run_id)
            except DamagedRunError:
                if damaged is not None:
                    damaged.append(run_id)
                continue
            if folder is not None:
                yield folder

    def resolve(self, prefix: str, extra: Iterable[str] = ()) -> str:
        """The one run id starting with `prefix` (at least 4 hex characters)."""
        prefix = names.check_run_prefix(prefix)
        root = self.root(self.head())
        if len(prefix) == 32:
            if self.folder_tree(root, prefix) is not None or prefix in extra:
                return prefix
            raise RunNotFoundError(f"no run {prefix}")
        found = sorted({i for i in (*self.run_ids(root), *extra) if i.startswith(prefix)})
        if not found:
            raise RunNotFoundError(f"no run matches {prefix!r}")
        if len(found) > 1:
            shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
            raise AmbiguousRunIdError(
                f"run id prefix {prefix!r} is ambiguous ({len(found)} runs: {shown}); "
                "give more characters"
            )
        return found[0]

    def points(self, folder_tree: bytes) -> list[Point]:
        """Every metric point of a run, in canonical order."""
        found: list[Point] = []
        for path, _mode, sha in self._metric_files(folder_tree):
            found.extend(self._read_points(path, sha))
        return canonical_points(found)

    def _read_points(self, path: str, sha: bytes) -> list[Point]:
        try:
            return parquet.read_metrics(self.objects.blob_bytes(sha))
        except DamagedRunError:
            raise
        except Exception as exc:  # the reader meets bytes it did not write: any error
            raise DamagedRunError(f"the metric file {path} ({sha.decode()[:12]}) cannot be "
                                  f"read ({type(exc).__name__})") from None

    def _metric_files(self, folder_tree: bytes) -> list[tuple[str, int, bytes]]:
        out: list[tuple[str, int, bytes]] = []
        tree = self.objects.tree(folder_tree)
        if METRICS_FILE.encode() in tree:
            mode, sha = tree[METRICS_FILE.encode()]
            out.append((METRICS_FILE, mode, sha))
        if CHUNKS_DIR.encode() in tree:
            _, sha = tree[CHUNKS_DIR.encode()]
            out.extend(self.objects.walk_files(sha, CHUNKS_DIR + "/"))
        return out

    def artifact_files(self, folder_tree: bytes) -> Iterator[tuple[str, int, bytes]]:
        entry = self.objects.lookup(folder_tree, ARTIFACTS_DIR)
        if entry is not None and stat.S_ISDIR(entry[0]):
            yield from self.objects.walk_files(entry[1])

    # -- writing ------------------------------------------------------------------------------
    def commit(self, updates: list[Update]) -> bytes | None:
        """Apply updates to the head in one commit; rebuilt on a lost race (P2).

        Group commit: threads of this process that commit at the same time are served by one
        commit (the thread that gets to commit takes every update waiting); if that batch
        fails, each thread's updates are committed alone, so that each gets its own outcome.
        Processes take turns on the ref's flock (see store/refs.py).
        """
        if not updates:
            return self.head()
        ticket = _Ticket(list(updates))
        with self._queue_lock:
            self._queue.append(ticket)
        with self._committer:
            if not ticket.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                if not any(t is ticket for t in batch):  # taken by a batch that was interrupted
                    batch.append(ticket)
                self._commit_batch(batch)
        if ticket.error is not None:
            raise ticket.error
        return ticket.head

    def _commit_batch(self, batch: list[_Ticket]) -> None:
        if len(batch) > 1:
            try:
                head = self._commit_updates([u for t in batch for u in t.updates])
            except Exception:
                pass  # one thread's update may be at fault: give each its own commit
            else:
                for t in batch:
                    t.head, t.done = head, True
                return
        for t in batch:
            try:
                t.head = self._commit_updates(t.updates)
            except Exception as exc:
                t.error = exc
            t.done = True

    def _commit_updates(self, updates: list[Update]) -> bytes | None:
        """One commit of `updates`. A rebuild after a lost race redoes only what depends on
        the head (the run records and the few trees on their paths): the metric files are
        encoded once, and their blobs, written by the first try, are not written again."""
        by_run: dict[str, list[Update]] = {}
        for update in updates:  # several changes to one run build on each other
            by_run.setdefault(update.run_id, []).append(update)
        encoded: dict[tuple[str, tuple[Any, ...]], Blob] = {}
        noting: list[tuple[bytes | None, bytes]] = []  # (notes head built on, notes commit)

        def build(old: bytes | None) -> bytes | None:
            root = self.root(old)
            out: list[Written] = []
            changes: dict[str, trees.Entry | None] = {}
            applied = [self._apply(root, group, changes, out, encoded)
                       for group in by_run.values()]
            lines = [line for line, _record in applied]
            new_root = trees.edit(self.objects, root, changes, out)
            if new_root is None:
                new_root = trees.build({}, out)
            if new_root == root:
                return None
            flush = all(u.event == FLUSH_EVENT for u in updates)
            run_commit = self._commit_object(new_root, old, lines, flush)
            out.append(run_commit)
            noting[:] = self._prepare_notes([record for _line, record in applied], out)
            self.objects.add(out)  # the run commit and its notes commit: one pack
            return run_commit.id

        head = self.move_head(build)
        if head is not None and noting:
            self._move_notes(*noting[0], list(by_run))
        return head

    def _prepare_notes(self, records: list[RunRecord], out: list[Written]
                       ) -> list[tuple[bytes | None, bytes]]:
        """Add to `out` the notes commit for the runs not yet noted by this handle (see
        runs/notes.py); the (notes head, new notes commit) pair, or nothing to do."""
        records = [r for r in records if r.id not in self._noted]
        fresh = [r.id for r in records]
        if not fresh:
            return []
        old = self.refs.get(notes.NOTES_REF)
        prepared = notes.prepare(self, records, old)
        if prepared is None:
            self._noted.update(fresh)
            return []
        out.extend(prepared)
        return [(old, prepared[-1].id)]

    def _move_notes(self, old: bytes | None, new: bytes, run_ids: list[str]) -> None:
        """Move the notes ref to the commit prepared with the run commit; if another writer
        moved it meanwhile, add the notes again on top of theirs (a second, rare pack)."""
        if self.refs.swap(notes.NOTES_REF, old, new):
            self._noted.update(run_ids)
        else:
            self.note_runs(run_ids, self.head())

    def has_commit(self, sha: str) -> bool:
        """Whether the repository has this (source) commit; found ones are remembered, as a
        lookup scans every pack index and a sweep asks about the same commit each run."""
        if sha in self._commits:
            return True
        if sha.encode() in self.objects:
            self._commits.add(sha)
            return True
        return False

    def note_runs(self, run_ids: Iterable[str], head: bytes | None) -> None:
        """Each run adds itself once to the git note of its source commit (runs/notes.py);
        used for the runs a pull brings (a commit notes its runs in its own pack)."""
        fresh = [r for r in dict.fromkeys(run_ids) if r not in self._noted]
        if not fresh or head is None:
            return
        root = self.root(head)
        notes.add(self, [f.record for r in fresh if (f := self.load(root, r)) is not None])
        self._noted.update(fresh)

    def move_head(self, build: Callable[[bytes | None], bytes | None]) -> bytes | None:
        """The one way `refs/ledger/runs` moves (commits, merges, init): compare-and-swap from
        the head `build` was given; `build` returns the new commit, or None to leave it. Then
        the ledger's packs are merged in the background if there are too many."""
        head = self.refs.update(RUNS_REF, build)
        self.objects.consolidate()
        return head

    def init(self) -> bool:
        """Give the runs ref its first (empty) commit; False if it exists already."""
        created = False

        def build(old: bytes | None) -> bytes | None:
            nonlocal created
            if old is not None:
                return None
            out: list[Written] = []
            out.append(self._commit_object(trees.build({}, out), None, ["ledger initialized"]))
            self.objects.add(out)
            created = True
            return out[-1].id

        self.move_head(build)
        return created

    def _apply(
        self,
        root: bytes | None,
        group: list[Update],
        changes: dict[str, trees.Entry | None],
        out: list[Written],
        encoded: dict[tuple[str, tuple[Any, ...]], Blob],
    ) -> tuple[str, RunRecord]:
        """Apply the updates of one run, in order, to the run as found under `root`: its
        audit line and its new record."""
        run_id = group[0].run_id
        folder = self.load(root, run_id)
        record = folder.record if folder else None
        points: list[Point] = []
        artifacts: dict[str, tuple[bytes, int]] = {}
        extra: dict[str, bytes] = {}
        strict = True
        for update in group:
            record = update.change(record)
            points.extend(update.points)
            artifacts.update(update.artifacts)
            extra.update(update.files)
            strict = strict and update.strict
        assert record is not None
        compact = any(u.compact for u in group)
        files: dict[str, trees.Entry | None] = {}
        existing = self._metric_files(folder.tree) if folder and compact else []

        def points_blob(key: tuple[Any, ...], make: Callable[[], list[Point]]) -> trees.Entry:
            """A metric file, encoded once per commit: a rebuild after a lost race reuses it."""
            data = encoded.get((run_id, key))
            if data is None:
                data = encoded[(run_id, key)] = blob(parquet.write_metrics(make()))
            out.append(data)
            return (FILE_MODE, data.id)

        def everything() -> list[Point]:
            found = list(points)
            for path, _mode, sha in existing:
                found.extend(self._read_points(path, sha))
            return canonical_points(found)

        if compact and (len(existing) > 1 or (existing and points)
                        or (existing and existing[0][0] != METRICS_FILE)):
            files[CHUNKS_DIR] = None
            files[METRICS_FILE] = points_blob(("all", *(s for _p, _m, s in existing)), everything)
        elif points and compact:
            files[METRICS_FILE] = points_blob(("all",), everything)
        else:
            # pieces of bounded size: sorting and encoding one piece holds the GIL briefly,
            # so threads logging while a flush thread commits ~500k points never stall long
            for start in range(0, len(points), CHUNK_POINTS):
                piece = points[start:start + CHUNK_POINTS]
                entry = points_blob(("chunk", start), partial(canonical_points, piece))
                files[chunk_path(entry[1])] = entry
        record.add_points(points)
        if artifacts:
            _add_artifacts(record, artifacts, files, strict)
        for name, sha in extra.items():
            files[name] = (FILE_MODE, sha)
        data = blob(record.to_json())
        out.append(data)
        files[RUN_FILE] = (FILE_MODE, data.id)
        base = names.run_dir(run_id)
        for rel, change in files.items():
            changes[f"{base}/{rel}"] = change
        return audit_line(record, group[-1].event), record

    def _commit_object(self, tree: bytes, parent: bytes | None, lines: list[str],
                       flush: bool = False) -> Commit:
        commit = Commit()
        commit.tree = ObjectID(tree)
        base = self._event_base(parent)
        trailer = ""
        if flush and base is not None:
            trailer = f"\n\n{BASE_TRAILER}{base.decode()}"
        if parent is None or base in (None, parent):
            commit.parents = [ObjectID(parent)] if parent else []
        else:  # on top of flushes: they become the second parent, off the first-parent line
            commit.parents = [ObjectID(base or parent), ObjectID(parent)]
        who = identity(self.gitdir)
        commit.author = commit.committer = who
        now = int(time.time())
        offset = -time.timezone if not time.localtime().tm_isdst else -time.altzone
        commit.author_time = commit.commit_time = now
        commit.author_timezone = commit.commit_timezone = offset
        if not lines:
            lines = ["ledger update"]
        subject = lines[0] if len(lines) == 1 else f"{len(lines)} run events"
        body = "" if len(lines) == 1 else "\n\n" + "\n".join(lines)
        commit.message = (subject + body + trailer + "\n").encode()
        return commit

    def _event_base(self, head: bytes | None) -> bytes | None:
        """The event commit at or below `head` on the first-parent line: `head` itself
        unless it is a flush commit, which names its base in a trailer."""
        if head is None:
            return None
        for line in reversed(self.objects.commit(head).message.decode("utf-8", "replace")
                             .splitlines()):
            if line.startswith(BASE_TRAILER):
                return line[len(BASE_TRAILER):].strip().encode()
        return head


def checked_record(data: bytes, run_id: str) -> RunRecord:
    """The record in a run folder's run.json, which must be the folder's own run: a folder
    speaks for its own id only (a copied or crafted run.json never replaces another run)."""
    try:
        record = RunRecord.from_json(data)
    except DamagedRunError as exc:
        if run_id in str(exc):
            raise
        raise DamagedRunError(f"run {run_id}: {exc}") from None
    if record.id != run_id:
        raise DamagedRunError(f"the folder of run {run_id} holds the record of run "
                              f"{record.id}: ignored (a run folder speaks for its own id)")
    return record


def artifact_clash(path: str, existing: Iterable[str]) -> str | None:
    """An existing artifact path that `path` would turn into a folder, or the reverse."""
    for other in existing:
        if other.startswith(path + "/") or path.startswith(other + "/"):
            return other
    return None


def changed_runs(objects: ObjectStore, old_root: bytes | None, new_root: bytes | None
                 ) -> list[str]:
    """Ids of runs whose folder differs between two ledger trees (new or changed), sorted.

    Only fan-out folders whose tree id changed are opened: the cost follows the change.
    """
    return sorted(name for _fan, name in changed_folders(objects, old_root, new_root))


def changed_folders(objects: ObjectStore, old_root: bytes | None, new_root: bytes | None
                    ) -> list[tuple[str, str]]:
    """(fan-out folder, name) of every folder below `runs/` of the new tree that differs
    from the old one, sorted."""
    def folders(tree: bytes | None, path: str = "") -> dict[bytes, bytes]:
        if tree is None:
            return {}
        found = objects.lookup(tree, path) if path else (stat.S_IFDIR, tree)
        if found is None or not stat.S_ISDIR(found[0]):
            return {}
        return {e.path: e.sha for e in objects.tree(found[1]).iteritems()
                if stat.S_ISDIR(e.mode)}

    old_fans, new_fans = folders(old_root, "runs"), folders(new_root, "runs")
    out: list[tuple[str, str]] = []
    for fan, sha in new_fans.items():
        if old_fans.get(fan) != sha:
            before = folders(old_fans.get(fan))
            out.extend((fan.decode("utf-8", "surrogateescape"),
                        name.decode("utf-8", "surrogateescape"))
                       for name, run in folders(sha).items() if before.get(name) != run)
    return sorted(out)


def _add_artifacts(record: RunRecord, added: dict[str, tuple[bytes, int]],
                   files: dict[str, trees.Entry | None], strict: bool = True) -> None:
    """Add artifact files; a path that clashes with another (a file that would also be a
    folder) is an error, or, when not `strict` (recovering what was already accepted),
    skipped so that the rest of the run is kept."""
    current = {a["path"]: a for a in record.artifacts}
    for path, (sha, size) in added.items():
        other = artifact_clash(path, current)
        if other is not None:
            if not strict:
                continue
            raise InvalidInputError(
                f"artifact path {path!r} clashes with the existing artifact {other!r} "
                "(a file cannot also be a folder)"
            )
        current[path] = {"path": path, "size": size}
        files[f"{ARTIFACTS_DIR}/{path}"] = (FILE_MODE, sha)
    record.artifacts = [current[p] for p in sorted(current)]


def audit_line(record: RunRecord, event: str) -> str:
    """One line of `git log refs/ledger/runs`: `run <id> finished: acc=0.92 (alice)`."""
    text = f"run {record.id} {event}"
    if event in ("finished", "failed", "killed", "updated") and record.metrics:
        shown = sorted(record.metrics.items())[:4]
        text += ": " + ", ".join(f"{k}={_short(v)}" for k, v in shown)
        if len(record.metrics) > 4:
            text += ", …"
    return f"{text} ({record.user or 'unknown'})"


def _short(value: float) -> str:
    shown = float_to_json(value)
    return shown if isinstance(shown, str) else f"{shown:.6g}"
