"""The run table as Parquet segments: a derived cache under `.git/ledger/index/`.

The cache is keyed by the commit of `refs/ledger/runs` it reflects. A reader that finds the
ref moved brings it up to date from the tree diff (only run folders whose tree id changed are
read, so the cost follows the change, not the history) and appends one segment; segments are
merged LSM-style when a newer one grows close to the size of the one before it, so the count
stays logarithmic and no write rewrites the whole table. Commits do not touch the cache (the
write path stays light); merges and pulls are just other ways for the ref to move.

Within the segments a run may appear several times; the newest segment wins. A missing or
damaged cache is rebuilt from the ref, never an error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ledger.errors import DamagedRunError, LedgerError
from ledger.query import table
from ledger.runs.record import RunRecord
from ledger.runs.store import RunStore, changed_runs, checked_record
from ledger.store.files import replacing, write_atomic
from ledger.store.git import cat_file_batch, run_git
from ledger.store.history import Relation, relate

MANIFEST = "manifest.json"
ALWAYS = ("run_id", "experiment", "name", "status", "start_time", "end_time", "user",
          "deleted")
MAX_SEGMENTS = 12
VERSION = 2  # of the cache's layout: 2 added the datasets.* columns (older caches are rebuilt)
ORPHAN_AGE = 600  # seconds before an unreferenced segment file is removed

_memo: dict[tuple[str, str, tuple[str, ...] | None], pa.Table] = {}
_damaged: dict[tuple[str, str], list[str]] = {}


@dataclass
class Segment:
    file: str
    rows: int


@dataclass
class Manifest:
    commit: str | None
    segments: list[Segment]
    damaged: list[str] = field(default_factory=list)  # runs whose record could not be read

    def to_json(self) -> str:
        return json.dumps({"version": VERSION, "commit": self.commit,
                           "segments": [{"file": s.file, "rows": s.rows} for s in self.segments],
                           "damaged": self.damaged})

    @classmethod
    def parse(cls, text: str) -> Manifest:
        doc = json.loads(text)
        if doc.get("version") != VERSION:
            raise ValueError("unknown manifest version")
        return cls(doc["commit"], [Segment(s["file"], int(s["rows"])) for s in doc["segments"]],
                   [str(d) for d in doc.get("damaged", [])])


class Snapshot:
    """The run table of one repository, kept current with `refs/ledger/runs`."""

    def __init__(self, store: RunStore, folder: Path) -> None:
        self.store = store
        self.folder = folder

    def table(self, columns: Iterable[str] | None = None) -> pa.Table:
        """Every run (deleted ones included, with a `deleted` column), current to the ref.

        `columns` limits the Parquet columns read (run_id and the info columns needed for
        listing are always read); None reads them all.
        """
        head = self.store.head()
        wanted = None if columns is None else tuple(sorted({*ALWAYS, *columns}))
        key = (str(self.folder), head.decode() if head else "", wanted)
        if key in _memo:
            return _memo[key]
        try:
            manifest = self.refresh(head)
        except OSError:  # cannot write the cache (a read-only repository): serve from memory
            damaged: list[str] = []
            result = canonical(table.build(all_records(self.store, head, damaged)))
            _damaged[key[:2]] = sorted(damaged)
        else:
            result = self._read(manifest, wanted)
            _damaged[key[:2]] = manifest.damaged
        if len(_memo) > 8:
            _memo.clear()
        _memo[key] = result
        return result

    def damaged(self) -> list[str]:
        """Runs whose record could not be read when the table was last built (skipped)."""
        head = self.store.head()
        key = (str(self.folder), head.decode() if head else "")
        if key not in _damaged:
            self.table(())
        return list(_damaged.get(key, []))

    def refresh(self, head: bytes | None = None) -> Manifest:
        """Bring the cache up to `head` (default: the ref now) and return its manifest."""
        head = self.store.head() if head is None else head
        current = self._load()
        target = head.decode() if head else None
        if current is not None and current.commit == target:
            return current
        if current is None or current.commit is None or not self._follows(current.commit, head):
            return self.rebuild(head)
        try:
            old_root = self.store.root(current.commit.encode())
            new_root = self.store.root(head)
            changed = changed_runs(self.store.objects, old_root, new_root)
            segments = list(current.segments)
            damaged = set(current.damaged) - set(changed)
            if changed:
                records = []
                for rid in changed:
                    try:
                        folder = self.store.load(new_root, rid)
                    except DamagedRunError:
                        damaged.add(rid)
                        continue
                    if folder is not None:
                        records.append(folder.record)
                segments.append(self._write(table.build(records)))
            manifest = Manifest(target, self._compact(segments), sorted(damaged))
        except (OSError, pa.ArrowException):  # e.g. a segment swept by another process
            return self.rebuild(head)
        self._save(manifest)
        return manifest

    def _follows(self, indexed: str, head: bytes | None) -> bool:
        """Whether the ref still contains the indexed commit (it can move back: a reset, a
        forced fetch); if not, the cache is rebuilt rather than patched by a diff."""
        if head is None or not self._has_commit(indexed):
            return False
        return relate(self.store.objects, indexed.encode(), head) in (Relation.SAME,
                                                                       Relation.BEHIND)

    def rebuild(self, head: bytes | None = None) -> Manifest:
        """Build the cache from scratch from the ref (`ledger reindex`)."""
        head = self.store.head() if head is None else head
        damaged: list[str] = []
        records = all_records(self.store, head, damaged)
        segments = [self._write(table.build(records))] if records else []
        manifest = Manifest(head.decode() if head else None, segments, sorted(damaged))
        self._save(manifest)
        return manifest

    # -- segments -----------------------------------------------------------------------------
    def _write(self, data: pa.Table) -> Segment:
        name = f"seg-{time.time_ns():x}-{os.urandom(4).hex()}.parquet"
        with replacing(self.folder / name) as tmp:
            pq.write_table(data, tmp, compression="zstd", row_group_size=64 * 1024)
        return Segment(name, data.num_rows)

    def _compact(self, segments: list[Segment]) -> list[Segment]:
        """Merge the newest segments while one is at least half the size of the one before,
        or while there are too many (size-tiered, like an LSM tree)."""
        segments = list(segments)
        while len(segments) > 1 and (segments[-1].rows * 2 >= segments[-2].rows
                                     or len(segments) > MAX_SEGMENTS):
            merged = latest_rows([self._read_segment(s) for s in segments[-2:]])
            for retired in segments[-2:]:  # the sweep counts their age from now
                os.utime(self.folder / retired.file)
            segments[-2:] = [self._write(merged)]
        return segments

    def _read_segment(self, segment: Segment, columns: tuple[str, ...] | None = None
                      ) -> pa.Table:
        # ParquetFile, not pq.read_table: the latter loads pyarrow.dataset, which drags pandas
        # in where it is installed (+0.25 s to every `ledger runs`)
        with pq.ParquetFile(self.folder / segment.file) as source:
            if columns is None:
                return source.read()
            present = set(source.schema_arrow.names)
            return source.read(columns=[c for c in columns if c in present])

    def _read(self, manifest: Manifest, columns: tuple[str, ...] | None = None) -> pa.Table:
        try:
            parts = [self._read_segment(s, columns) for s in manifest.segments]
        except (OSError, pa.ArrowException):
            parts = [self._read_segment(s, columns) for s in self.rebuild().segments]
        return canonical(latest_rows(parts))

    # -- manifest -----------------------------------------------------------------------------
    def _load(self) -> Manifest | None:
        try:
            manifest = Manifest.parse((self.folder / MANIFEST).read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not all((self.folder / s.file).is_file() for s in manifest.segments):
            return None
        return manifest

    def _save(self, manifest: Manifest) -> None:
        write_atomic(self.folder / MANIFEST, manifest.to_json().encode())
        self._sweep(manifest)

    def _sweep(self, manifest: Manifest) -> None:
        keep = {s.file for s in manifest.segments}
        now = time.time()
        for path in self.folder.glob("seg-*.parquet"):
            try:
                if path.name not in keep and now - path.stat().st_mtime > ORPHAN_AGE:
                    path.unlink()
            except OSError:
                pass

    def _has_commit(self, hexsha: str) -> bool:
        return hexsha.encode() in self.store.objects


def all_records(store: RunStore, head: bytes | None, damaged: list[str] | None = None
                ) -> list[RunRecord]:
    """Every run.json at `head`, streamed by `git cat-file --batch` (C walks the packs much
    faster than a lookup per object from Python); dulwich is the fallback. A damaged record
    (or one in another run's folder) is skipped, its folder's id added to `damaged`."""
    damaged = [] if damaged is None else damaged
    if head is None:
        return []
    git_dir = store.gitdir.common_dir
    try:
        listing = run_git(git_dir, ["ls-tree", "-r", "-z", head.decode(), "--", "runs/"]).stdout
        found = [(entry.split(b"\t", 1)[0].split()[2].decode(),
                  entry.split(b"\t", 1)[1].split(b"/"))
                 for entry in listing.split(b"\0") if _is_record(entry)]
        objects = cat_file_batch(git_dir, [sha for sha, _ in found])
    except (LedgerError, IndexError):
        return [f.record for f in store.folders(store.root(head), damaged)]
    records = []
    for (_sha, parts), obj in zip(found, objects):
        rid = parts[2].decode("utf-8", "replace")
        try:
            if obj is None or obj.type != "blob" or parts[1].decode() != rid[-2:]:
                raise DamagedRunError(f"run folder {rid} is not a run's")
            records.append(checked_record(obj.body, rid))
        except (DamagedRunError, UnicodeDecodeError):
            damaged.append(rid)
    return records


def _is_record(entry: bytes) -> bool:
    """`ls-tree` line of a run's own record `runs/<xx>/<id>/run.json` (an artifact may be
    called run.json too, deeper down)."""
    path = entry.split(b"\t", 1)[-1]
    parts = path.split(b"/")
    return len(parts) == 4 and parts[3] == b"run.json"


def latest_rows(parts: list[pa.Table]) -> pa.Table:
    """Concatenate segments (oldest first), keeping the newest row of each run.

    Newer segments are small (the size-tiered merge keeps them so): going from the newest
    back, each older segment only loses the rows whose run a newer one already has.
    """
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return table.build([])
    if len(parts) == 1:
        return parts[0]
    kept: list[pa.Table] = []
    seen: pa.Array | None = None
    for part in reversed(parts):
        if seen is not None:
            part = part.filter(pc.invert(pc.is_in(part["run_id"], value_set=seen)))
        kept.append(part)
        ids = part["run_id"].combine_chunks()
        seen = ids if seen is None else pa.concat_arrays([seen, ids])
    return pa.concat_tables(reversed(kept), promote_options="permissive")


def canonical(data: pa.Table) -> pa.Table:
    """Info columns first, then params.*, metrics.*, tags.* each sorted by key."""
    info = [name for name, _ in table.INFO_COLUMNS]
    rest = sorted((c for c in data.column_names if c not in info),
                  key=lambda c: (("params.", "metrics.", "tags.").index(c.split(".", 1)[0] + ".")
                                 if c.split(".", 1)[0] in ("params", "metrics", "tags") else 3, c))
    return data.select([c for c in info if c in data.column_names] + rest)
