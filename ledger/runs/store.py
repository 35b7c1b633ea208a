"""Runs as folders on `refs/ledger/runs`: read them, and commit changes by compare-and-swap.

Layout of the ref's tree (one folder per run, fanned out on the random end of the id):

    runs/<last 2 hex of id>/<id>/run.json            the record (schemas/run.schema.json)
                                 metrics.parquet     metric history once the run has ended
                                 metrics/<h>.parquet chunks appended while it is live
                                 artifacts/...       artifact files as blobs
                                 environment.json    installed packages (shared blob)
                                 source.patch        the dirty patch, when the tree was dirty

A commit rewrites only the trees on the paths of the runs it touches (P4).
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from dulwich.objects import Commit, ObjectID, ShaFile

from ledger import names
from ledger.errors import AmbiguousRunIdError, InvalidInputError, RunNotFoundError
from ledger.runs.record import Point, RunRecord, canonical_points, float_to_json
from ledger.store import parquet, trees
from ledger.store.gitdir import GitDir
from ledger.store.identity import identity
from ledger.store.objects import FILE_MODE, ObjectStore, blob
from ledger.store.refs import Refs

RUNS_REF = names.RUNS_REF.encode()
RUN_FILE = names.RUN_FILE
METRICS_FILE = "metrics.parquet"
CHUNKS_DIR = "metrics"
ARTIFACTS_DIR = "artifacts"


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


class RunStore:
    def __init__(self, gitdir: GitDir) -> None:
        self.gitdir = gitdir
        self.objects = ObjectStore(gitdir.objects_dir)
        self.refs = Refs(gitdir.common_dir)

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
        return Folder(run_id, tree, RunRecord.from_json(self.objects.blob_bytes(entry[1])))

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

    def folders(self, root: bytes | None) -> Iterator[Folder]:
        for run_id in self.run_ids(root):
            folder = self.load(root, run_id)
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
        for _path, _mode, sha in self._metric_files(folder_tree):
            found.extend(parquet.read_metrics(self.objects.blob_bytes(sha)))
        return canonical_points(found)

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
        """Apply updates to the head in one commit; retried on a lost race (P2)."""
        if not updates:
            return self.head()

        def build(old: bytes | None) -> bytes | None:
            root = self.root(old)
            out: list[ShaFile] = []
            changes: dict[str, trees.Entry | None] = {}
            lines: list[str] = []
            by_run: dict[str, list[Update]] = {}
            for update in updates:  # several changes to one run build on each other
                by_run.setdefault(update.run_id, []).append(update)
            for group in by_run.values():
                lines.append(self._apply(root, group, changes, out))
            new_root = trees.edit(self.objects, root, changes, out)
            if new_root is None:
                new_root = trees.build({}, out)
            if new_root == root:
                return None
            out.append(self._commit_object(new_root, old, lines))
            self.objects.add(out)
            return out[-1].id

        return self.move_head(build)

    def move_head(self, build: Callable[[bytes | None], bytes | None]) -> bytes | None:
        """The one way `refs/ledger/runs` moves (commits, merges, init): compare-and-swap from
        the head `build` was given; `build` returns the new commit, or None to leave it."""
        return self.refs.update(RUNS_REF, build)

    def init(self) -> bool:
        """Give the runs ref its first (empty) commit; False if it exists already."""
        created = False

        def build(old: bytes | None) -> bytes | None:
            nonlocal created
            if old is not None:
                return None
            out: list[ShaFile] = []
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
        out: list[ShaFile],
    ) -> str:
        """Apply the updates of one run, in order, to the run as found under `root`."""
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
        existing = self._metric_files(folder.tree) if folder else []
        if compact and (len(existing) > 1 or (existing and points)
                        or (existing and existing[0][0] != METRICS_FILE)):
            everything = list(points)
            for _path, _mode, sha in existing:
                everything.extend(parquet.read_metrics(self.objects.blob_bytes(sha)))
            files[CHUNKS_DIR] = None
            files[METRICS_FILE] = self._points_blob(canonical_points(everything), out)
        elif points:
            entry = self._points_blob(canonical_points(points), out)
            chunk = f"{CHUNKS_DIR}/{entry[1][:16].decode()}.parquet"
            files[METRICS_FILE if compact else chunk] = entry
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
        return audit_line(record, group[-1].event)

    def _points_blob(self, points: list[Point], out: list[ShaFile]) -> trees.Entry:
        data = blob(parquet.write_metrics(points))
        out.append(data)
        return (FILE_MODE, data.id)

    def _commit_object(self, tree: bytes, parent: bytes | None, lines: list[str]) -> Commit:
        commit = Commit()
        commit.tree = ObjectID(tree)
        commit.parents = [ObjectID(parent)] if parent else []
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
        commit.message = (subject + body + "\n").encode()
        return commit


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
    def folders(tree: bytes | None, path: str = "") -> dict[bytes, bytes]:
        if tree is None:
            return {}
        found = objects.lookup(tree, path) if path else (stat.S_IFDIR, tree)
        if found is None or not stat.S_ISDIR(found[0]):
            return {}
        return {e.path: e.sha for e in objects.tree(found[1]).iteritems()
                if stat.S_ISDIR(e.mode)}

    old_fans, new_fans = folders(old_root, "runs"), folders(new_root, "runs")
    out: list[str] = []
    for fan, sha in new_fans.items():
        if old_fans.get(fan) != sha:
            before = folders(old_fans.get(fan))
            out.extend(name.decode() for name, run in folders(sha).items()
                       if before.get(name) != run)
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
