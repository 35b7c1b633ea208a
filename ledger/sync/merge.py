"""Merge two ledger trees: deterministic, order-independent and idempotent (P3).

The merge is a merge of states, not of changes, so it needs no merge base: every part of the
ledger only grows (runs are soft-deleted, never removed) or is a register with a rule that
picks one value whatever the order. For two root trees A and B:

- an entry present on one side only, or identical on both, is taken as it is; only subtrees
  whose ids differ are opened, so the cost follows the changed runs, not all runs;
- `runs/<fan>/<id>/`: a run changed on both sides is merged field by field with
  `record.merge` (run.json); its metric points are the union of both sides' points; if the
  merged run has ended they are one `metrics.parquet`, else the chunk files of both sides
  (rewritten as one chunk only if two chunk files clash by name); artifacts and other files
  are the union, and a path with different contents on the two sides keeps the blob with the
  greater id (the size in run.json follows the blob kept);
- any other top-level folder merges with the function registered for its name
  (`register_folder_merge`), by default as a union of files where a clash keeps the greater
  blob id (content-addressed files never clash).

So merge(A, B) and merge(B, A) give the same tree, and merge(A, A) is A.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from dulwich.objects import ObjectID, Tree

from ledger import names
from ledger.errors import DamagedRunError
from ledger.runs.record import RunRecord, canonical_points, merge
from ledger.runs.store import (
    ARTIFACTS_DIR,
    CHUNKS_DIR,
    METRICS_FILE,
    RUN_FILE,
    RunStore,
    chunk_path,
)
from ledger.store import parquet, trees
from ledger.store.history import Relation, relate
from ledger.store.objects import FILE_MODE, TREE_MODE, ObjectStore, Written, blob
from ledger.sync.screen import Refused, screen

Entry = tuple[int, bytes]  # (mode, sha) of a tree entry


@dataclass
class MergeContext:
    """What a folder merge needs: the objects, where new objects go, and counters."""

    store: ObjectStore
    out: list[Written] = field(default_factory=list)
    runs_merged: int = 0  # runs present on both sides in different versions

    def put_tree(self, entries: dict[bytes, Entry]) -> bytes:
        tree = Tree()
        for name, (mode, sha) in entries.items():
            tree.add(name, mode, ObjectID(sha))
        self.out.append(tree)
        return tree.id

    def put_blob(self, data: bytes) -> bytes:
        obj = blob(data)
        self.out.append(obj)
        return obj.id

    def entries(self, tree: bytes) -> dict[bytes, Entry]:
        return entries_of(self.store, tree)


def entries_of(store: ObjectStore, tree: bytes) -> dict[bytes, Entry]:
    """The entries of a tree, unsorted (sorting is for writing, and costs)."""
    found = store.tree(tree)
    return {name: found[name] for name in found}


# A merge of one top-level folder: (context, tree on one side, tree on the other) -> tree.
# Called only when both sides have the folder and their tree ids differ; it must be
# commutative and idempotent like the whole merge.
FolderMerge = Callable[[MergeContext, bytes, bytes], bytes]
_FOLDER_MERGES: dict[str, FolderMerge] = {}


def register_folder_merge(name: str, fn: FolderMerge) -> None:
    """Merge the top-level folder `name` of the ledger tree with `fn` (e.g. `index`)."""
    _FOLDER_MERGES[name] = fn


def merge_roots(ctx: MergeContext, a: bytes | None, b: bytes | None) -> bytes | None:
    """The merged root tree of two ledger trees (None: no tree on that side)."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    return merge_entries(ctx, ctx.entries(a), ctx.entries(b), _top_level)


def _top_level(ctx: MergeContext, name: bytes, a: Entry, b: Entry) -> Entry:
    fn = _FOLDER_MERGES.get(name.decode("utf-8", "surrogateescape"))
    if fn is None or not (stat.S_ISDIR(a[0]) and stat.S_ISDIR(b[0])):
        return union_entry(ctx, name, a, b)
    return (TREE_MODE, fn(ctx, a[1], b[1]))


EntryMerge = Callable[[MergeContext, bytes, Entry, Entry], Entry]


def merge_entries(ctx: MergeContext, a: dict[bytes, Entry], b: dict[bytes, Entry],
                  both: EntryMerge) -> bytes:
    """A tree of the union of two entry maps; `both` merges a name present, and different,
    on both sides."""
    merged = dict(a)
    for name, entry in b.items():
        mine = merged.get(name)
        if mine is None:
            merged[name] = entry
        elif mine != entry:
            merged[name] = both(ctx, name, mine, entry)
    return ctx.put_tree(merged)


def union_entry(ctx: MergeContext, _name: bytes, a: Entry, b: Entry) -> Entry:
    """The default rule: folders merge as a union of files; two different files (or a file
    and a folder) keep the one with the greater (is folder, id, mode)."""
    if stat.S_ISDIR(a[0]) and stat.S_ISDIR(b[0]):
        return (TREE_MODE, union_files(ctx, a[1], b[1]))
    return max(a, b, key=lambda e: (stat.S_ISDIR(e[0]), e[1], e[0]))


def union_files(ctx: MergeContext, a: bytes, b: bytes) -> bytes:
    """The union of the files below two trees (see `union_entry` for a clash)."""
    if a == b:
        return a
    return merge_entries(ctx, ctx.entries(a), ctx.entries(b), union_entry)


# -- runs/ ------------------------------------------------------------------------------------


def merge_runs_folder(ctx: MergeContext, a: bytes, b: bytes) -> bytes:
    """`runs/<fan>/<id>/`: open only the fan-out folders, then the runs, that differ."""
    return merge_entries(ctx, ctx.entries(a), ctx.entries(b), _fan_entry)


def _fan_entry(ctx: MergeContext, name: bytes, a: Entry, b: Entry) -> Entry:
    if not (stat.S_ISDIR(a[0]) and stat.S_ISDIR(b[0])):
        return union_entry(ctx, name, a, b)
    return (TREE_MODE, merge_entries(ctx, ctx.entries(a[1]), ctx.entries(b[1]), _run_entry))


def _run_entry(ctx: MergeContext, name: bytes, a: Entry, b: Entry) -> Entry:
    run_id = name.decode("utf-8", "surrogateescape")
    if not (stat.S_ISDIR(a[0]) and stat.S_ISDIR(b[0])) or not names.RUN_ID_RE.match(run_id):
        return union_entry(ctx, name, a, b)
    ctx.runs_merged += 1
    try:
        return (TREE_MODE, merge_run(ctx, a[1], b[1]))
    except DamagedRunError:  # a damaged side gives way to a readable one (either order)
        readable = [e for e in (a, b) if _readable(ctx, e[1])]
        return readable[0] if len(readable) == 1 else union_entry(ctx, name, a, b)


def _readable(ctx: MergeContext, tree: bytes) -> bool:
    entry = ctx.entries(tree).get(RUN_FILE.encode())
    try:
        return entry is not None and bool(_record(ctx, entry))
    except DamagedRunError:
        return False


def merge_run(ctx: MergeContext, a: bytes, b: bytes) -> bytes:
    """Two versions of one run folder (different tree ids) as one."""
    ea, eb = ctx.entries(a), ctx.entries(b)
    run_file = RUN_FILE.encode()
    if run_file not in ea or run_file not in eb:
        return union_files(ctx, a, b)
    record = merge(_record(ctx, ea[run_file]), _record(ctx, eb[run_file]))
    special = {run_file, METRICS_FILE.encode(), CHUNKS_DIR.encode(), ARTIFACTS_DIR.encode()}
    merged = {n: e for n, e in ea.items() if n not in special}
    for name, entry in eb.items():
        if name not in special:
            mine = merged.get(name)
            merged[name] = entry if mine in (None, entry) else union_entry(ctx, name, mine, entry)
    merged.update(_merge_metrics(ctx, ea, eb, record.status in names.TERMINAL))
    artifacts = _merge_artifacts(ctx, ea, eb, record)
    if artifacts is not None:
        merged[ARTIFACTS_DIR.encode()] = artifacts
    merged[run_file] = (FILE_MODE, ctx.put_blob(record.to_json()))
    return ctx.put_tree(merged)


def _record(ctx: MergeContext, entry: Entry) -> RunRecord:
    return RunRecord.from_json(ctx.store.blob_bytes(entry[1]))


def _metric_files(ctx: MergeContext, entries: dict[bytes, Entry]) -> dict[str, bytes]:
    """The metric files of a run folder: relative path -> blob id."""
    found: dict[str, bytes] = {}
    whole = entries.get(METRICS_FILE.encode())
    if whole is not None and not stat.S_ISDIR(whole[0]):
        found[METRICS_FILE] = whole[1]
    chunks = entries.get(CHUNKS_DIR.encode())
    if chunks is not None and stat.S_ISDIR(chunks[0]):
        for path, _mode, sha in ctx.store.walk_files(chunks[1], CHUNKS_DIR + "/"):
            found[path] = sha
    return found


def _merge_metrics(ctx: MergeContext, ea: dict[bytes, Entry], eb: dict[bytes, Entry],
                   ended: bool) -> dict[bytes, Entry]:
    """The metric entries of the merged run folder (`metrics.parquet` and/or `metrics/`)."""
    fa, fb = _metric_files(ctx, ea), _metric_files(ctx, eb)
    union = {**fa, **fb}
    clash = any(fa[p] != fb[p] for p in fa.keys() & fb.keys())
    if not union:
        return {}
    if not clash and (not ended or list(union) == [METRICS_FILE]):
        return _metric_entries(ctx, union)
    points = []
    for sha in sorted({*fa.values(), *fb.values()}):
        try:
            points.extend(parquet.read_metrics(ctx.store.blob_bytes(sha)))
        except Exception:  # bytes the reader did not write: the run is damaged, not the pull
            raise DamagedRunError(f"metric file {sha.decode()[:12]} cannot be read") from None
    data = ctx.put_blob(parquet.write_metrics(canonical_points(points)))
    if ended:
        return {METRICS_FILE.encode(): (FILE_MODE, data)}
    return _metric_entries(ctx, {chunk_path(data): data})


def _metric_entries(ctx: MergeContext, files: dict[str, bytes]) -> dict[bytes, Entry]:
    out: dict[bytes, Entry] = {}
    whole = files.pop(METRICS_FILE, None)
    if whole is not None:
        out[METRICS_FILE.encode()] = (FILE_MODE, whole)
    if files:
        out[CHUNKS_DIR.encode()] = (TREE_MODE, trees.build(
            {path.split("/", 1)[1]: (FILE_MODE, sha) for path, sha in files.items()}, ctx.out))
    return out


def _merge_artifacts(ctx: MergeContext, ea: dict[bytes, Entry], eb: dict[bytes, Entry],
                     record: RunRecord) -> Entry | None:
    """The union of both artifact trees; run.json's artifact list follows what is kept."""
    key = ARTIFACTS_DIR.encode()
    a, b = ea.get(key), eb.get(key)
    if a is None or b is None or a == b:
        return a or b
    if not (stat.S_ISDIR(a[0]) and stat.S_ISDIR(b[0])):
        return union_entry(ctx, key, a, b)
    fa = {p: (m, s) for p, m, s in ctx.store.walk_files(a[1])}
    fb = {p: (m, s) for p, m, s in ctx.store.walk_files(b[1])}
    files = {**fa, **fb}
    changed = set()
    for path in fa.keys() & fb.keys():
        if fa[path] != fb[path]:
            files[path] = max(fa[path], fb[path], key=lambda e: (e[1], e[0]))
            changed.add(path)
    # A path that is a file on one side and a folder on the other: the folder's files stay.
    folders = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}
    for path in folders & files.keys():
        del files[path]
    kept = []
    for entry in record.artifacts:
        if entry.get("path") in files:
            path = entry["path"]
            if path in changed:
                entry = {**entry, "size": len(ctx.store.blob_bytes(files[path][1]))}
            kept.append(entry)
    record.artifacts = kept
    return (TREE_MODE, trees.build(files, ctx.out))


@dataclass
class Merged:
    """What merging another history into the local ledger did."""

    kind: str  # "up to date", "created", "fast-forward" or "merged"
    old: bytes | None
    new: bytes | None
    runs_merged: int = 0  # runs found in different versions on the two sides
    refused: list[Refused] = field(default_factory=list)  # their runs that failed screening


def merge_history(store: RunStore, theirs: bytes, what: str) -> Merged:
    """Merge the commit `theirs` into `refs/ledger/runs`: a fast-forward when one side
    contains the other, else a merge commit (parents: ours, theirs) of the merged trees.

    The ref moves by compare-and-swap; a local writer that commits meanwhile makes it redo
    the merge on the new head. `what` names the other side in the commit message."""
    result = Merged("up to date", None, None)

    def build(ours: bytes | None) -> bytes | None:
        result.old, result.new, result.runs_merged = ours, ours, 0
        relation = Relation.BEHIND if ours is None else relate(store.objects, ours, theirs)
        if relation in (Relation.SAME, Relation.AHEAD):
            result.kind = "up to date"
            return None
        # what comes from elsewhere is screened before it is merged (untrusted input)
        their_root, result.refused = screen(store, store.root(ours), store.root(theirs))
        if relation is Relation.BEHIND and not result.refused:
            result.kind, result.new = "created" if ours is None else "fast-forward", theirs
            return theirs
        ctx = MergeContext(store.objects)
        root = merge_roots(ctx, store.root(ours), their_root)
        if root is None:
            root = trees.build({}, ctx.out)
        line = f"ledger merge of {what}"
        if ctx.runs_merged:
            line += f": {ctx.runs_merged} run{'s' if ctx.runs_merged != 1 else ''} merged"
        if result.refused:
            line += f" ({len(result.refused)} invalid run(s) refused)"
        commit = store._commit_object(root, ours, [line])
        commit.parents = [ObjectID(p) for p in (ours, theirs) if p is not None]
        ctx.out.append(commit)
        store.objects.add(ctx.out)
        result.kind, result.new, result.runs_merged = "merged", commit.id, ctx.runs_merged
        return commit.id

    store.move_head(build)
    return result


register_folder_merge("runs", merge_runs_folder)
