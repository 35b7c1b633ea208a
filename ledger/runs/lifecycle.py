"""The lifecycle of runs in one repository: create, log, end, edit, recover, read, artifacts.

`Runs` is the base of the public `Ledger` handle (ledger/api.py), which adds queries and the
fluent methods. Functions take ids or unique prefixes (at least 4 hex characters), validate
everything before writing anything (P6), and never print.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ledger import names
from ledger.errors import InvalidInputError, RunNotFoundError
from ledger.runs import artifacts, capture, journal, replay, settings
from ledger.runs.active import ActiveRun
from ledger.runs.record import Point, RunRecord, canonical_points, merge, now_ms
from ledger.runs.store import RunStore, Update
from ledger.store import gitdir as gitdirs
from ledger.store import stream
from ledger.store.objects import blob

if TYPE_CHECKING:
    from ledger.runs.run import Run

PATCH_FILE = "source.patch"
PACKAGES_FILE = "environment.json"


class Runs:
    """The runs of one git repository. `Runs()` uses LEDGER_REPO or the current folder."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, recover: bool = True):
        self.gitdir = gitdirs.find(path)
        self.store = RunStore(self.gitdir)
        self.journal_dir = self.gitdir.ledger_dir / "journal"
        self.cache_dir = self.gitdir.ledger_dir / "cache"
        if recover:
            self.recover()

    @property
    def path(self) -> Path:
        return self.gitdir.work_tree or self.gitdir.git_dir

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # -- creating runs ------------------------------------------------------------------------
    def _new_record(self, experiment: str | None, name: str | None,
                    tags: dict[str, Any] | None, params: dict[str, Any] | None,
                    argv: list[str] | None, run_id: str | None = None,
                    overrides: dict[str, Any] | None = None,
                    ) -> tuple[RunRecord, dict[str, bytes]]:
        if experiment is None:
            experiment = os.environ.get("LEDGER_EXPERIMENT") or names.DEFAULT_EXPERIMENT
        experiment = names.check_experiment(experiment)
        checked_tags = {names.check_key(k, "tag key"): names.tag_value(v)
                        for k, v in (tags or {}).items()}
        checked_params = {names.check_key(k, "param key"): names.param_value(v)
                          for k, v in (params or {}).items()}
        if os.environ.get("LEDGER_REPRODUCES"):  # a run started under `ledger reproduce`
            checked_tags.setdefault("ledger.reproduces", os.environ["LEDGER_REPRODUCES"])
        start = now_ms()
        rid = names.check_run_id(run_id) if run_id else names.new_run_id(start)
        run_name = names.check_run_name(name) if name else _default_name(rid)
        source, patch = capture.source(self.gitdir, argv)
        files = {PACKAGES_FILE: self._store_blob(capture.packages())[0]}
        if patch:
            files[PATCH_FILE] = self._store_blob(patch)[0]
            source["patch"] = PATCH_FILE
        record = RunRecord(id=rid, experiment=experiment, name=run_name, status="RUNNING",
                           start_time=start, user=names.user_name(), params=checked_params,
                           source=source, environment=capture.environment())
        record.environment["packages"] = PACKAGES_FILE
        if overrides:  # what an MLflow client says about its own run (ledger/runs/mlflow_tags)
            _override(record, overrides)
        if used := settings.recorded():
            record.environment["settings"] = used
        for key, value in checked_tags.items():
            record.set_tag(key, value, (start, 0))
        return record, files

    def open_run(self, experiment: str | None = None, name: str | None = None,
                 tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                 argv: list[str] | None = None, *,
                 overrides: dict[str, Any] | None = None) -> ActiveRun:
        """Open a run owned by this process; every log call is journaled, then committed.
        (`start_run` also makes it the thread's active run.)"""
        record, files = self._new_record(experiment, name, tags, params, argv,
                                         overrides=overrides)
        first = (journal.CREATE, record.to_doc(), {k: v.decode() for k, v in files.items()})
        jr = journal.Journal.create(self.journal_dir, record.id, journal.OWNER, first)
        return ActiveRun(self, record, jr, files, owner=True)

    def attach(self, run_id: str) -> ActiveRun:
        """Log into an open run started elsewhere (LEDGER_RUN_ID); `end()` only flushes."""
        rid = self.resolve(run_id)
        record = self._current_record(rid)
        jr = journal.Journal.create(self.journal_dir, rid, journal.ATTACH)
        partial = RunRecord(id=rid, experiment="", start_time=0, params=dict(record.params),
                            tags=dict(record.tags), clocks=dict(record.clocks))
        return ActiveRun(self, partial, jr, owner=False,
                         artifact_paths=[a["path"] for a in record.artifacts])

    def create_run(self, experiment: str | None = None, name: str | None = None,
                   tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                   argv: list[str] | None = None, *,
                   overrides: dict[str, Any] | None = None) -> str:
        """Commit a new RUNNING run now (for `ledger start` and `ledger exec`)."""
        record, files = self._new_record(experiment, name, tags, params, argv,
                                         overrides=overrides)
        self.store.commit([Update(record.id, _create(record), files=files, event="started")])
        return record.id

    def log_run(self, experiment: str | None = None, name: str | None = None, *,
                params: dict[str, Any] | None = None,
                metrics: Sequence[tuple[str, Any, int]] = (),
                tags: dict[str, Any] | None = None,
                artifacts: Sequence[tuple[str, str | None]] = (),
                status: str = "FINISHED", argv: list[str] | None = None) -> str:
        """Record one complete run in a single commit (`ledger log` without --run)."""
        status = names.check_status(status)
        ts = now_ms()
        points = _points(metrics, ts)
        record, files = self._new_record(experiment, name, tags, params, argv)
        stored = self._artifact_pairs(artifacts)
        if status != "RUNNING":
            record.finish(status, now_ms(), (record.start_time, 1))
        update = Update(record.id, _create(record), points=points,
                        compact=status != "RUNNING", artifacts=stored, files=files,
                        event=status.lower() if status != "RUNNING" else "started")
        self.store.commit([update])
        return record.id

    def log_to(self, run_id: str, *, params: dict[str, Any] | None = None,
               metrics: Sequence[tuple[str, Any, int]] = (),
               tags: dict[str, Any] | None = None,
               artifacts: Sequence[tuple[str, str | None]] = (),
               status: str | None = None, points: Sequence[Point] = ()) -> str:
        """Add to an existing run in one commit (`ledger log --run ID`); `points` are metric
        points with their own timestamps (key, step, timestamp, value)."""
        rid = self.resolve(run_id)
        checked_params = {names.check_key(k, "param key"): names.param_value(v)
                          for k, v in (params or {}).items()}
        checked_tags = {names.check_key(k, "tag key"): names.tag_value(v)
                        for k, v in (tags or {}).items()}
        final = names.check_status(status) if status else None
        timed = [(names.check_key(k, "metric key"), names.check_step(step),
                  names.check_timestamp(ts), names.metric_value(k, v)) for k, step, ts, v in points]
        points = [*_points(metrics, now_ms()), *timed]
        stored = self._artifact_pairs(artifacts)

        def edit(record: RunRecord) -> None:
            for key, value in checked_params.items():
                record.set_param(key, value)
            for key, value in checked_tags.items():
                record.set_tag(key, value)
            if final:
                record.finish(final, now_ms())

        return self._edit(rid, edit, final.lower() if final else "updated", points=points,
                          compact=final not in (None, "RUNNING"), artifacts=stored)

    def set_terminated(self, run_id: str, status: str = "FINISHED") -> str:
        """Close a run by id (`ledger end`): FINISHED by default; its metric chunks become one
        file. (MlflowClient's name; `end_run()` ends this thread's active run.)"""
        status = names.check_status(status)
        rid = self.resolve(run_id)
        self.recover()
        # what journals still hold for the run (e.g. of a writer on another host that died)
        # is committed with its end; the journals stay until their writer is judged gone
        reps = replay.live(self.journal_dir, rid)
        return self._edit(rid, lambda r: r.finish(status, now_ms()), status.lower(),
                          with_live=True, compact=status != "RUNNING", strict=False,
                          points=[p for rep in reps for p in rep.points],
                          artifacts={k: v for rep in reps for k, v in rep.artifacts.items()},
                          files={k: v for rep in reps for k, v in rep.files.items()})

    def set_run_tags(self, run_id: str, tags: dict[str, Any]) -> str:
        """Set tags of a run by id (`ledger tag`); `set_tags` tags the active run."""
        checked = {names.check_key(k, "tag key"): names.tag_value(v) for k, v in tags.items()}
        if not checked:
            raise InvalidInputError("no tags given: expected KEY=VALUE")
        def edit(record: RunRecord) -> None:
            for key, value in checked.items():
                record.set_tag(key, value)

        return self._edit(run_id, edit, "tagged")

    def delete_run_tags(self, run_id: str, keys: Iterable[str]) -> str:
        checked = [names.check_key(k, "tag key") for k in keys]
        if not checked:
            raise InvalidInputError("no tag keys given")

        def drop(record: RunRecord) -> None:
            missing = [k for k in checked if k not in record.tags]
            if missing:
                raise InvalidInputError(f"run {record.id} has no tag {missing[0]!r}")
            for key in checked:
                record.delete_tag(key)

        return self._edit(run_id, drop, "untagged")

    def rename_run(self, run_id: str, name: str) -> str:
        checked = names.check_run_name(name)
        return self._edit(run_id, lambda r: r.rename(checked), "renamed")

    def delete_run(self, run_id: str) -> str:
        """Soft delete: hidden from listings, kept in history, undone by `restore_run`."""
        return self._edit(run_id, lambda r: r.set_deleted(True), "deleted")

    def restore_run(self, run_id: str) -> str:
        return self._edit(run_id, lambda r: r.set_deleted(False), "restored")

    def _edit(self, run_id: str, fn: Callable[[RunRecord], Any], event: str,
              with_live: bool = False, **update: Any) -> str:
        """The one way to change a committed or live run: `fn` edits its current record (the
        committed one, else what this machine's journals hold; `with_live`: both), in one
        commit."""
        rid = self.resolve(run_id)
        fallback = self._live_record(rid)

        def change(current: RunRecord | None) -> RunRecord:
            if with_live and current is not None and fallback is not None:
                current = merge(current, fallback)
            record = current or _require(fallback.copy() if fallback else None, rid)
            fn(record)
            return record

        self.store.commit([Update(rid, change, event=event, **update)])
        return rid

    def recover(self) -> list[str]:
        """Commit the runs of processes that died (KILLED, with every journaled point)."""
        if not self.journal_dir.is_dir():
            return []
        return replay.recover(self.store, self.journal_dir)

    def set_aside(self) -> list[replay.SetAside]:
        """Journals that recovery set aside (damaged, or not committable), with the reason."""
        return replay.set_aside(self.journal_dir)

    # -- blobs --------------------------------------------------------------------------------
    def _store_blob(self, data: bytes) -> tuple[bytes, int]:
        obj = blob(data)
        self.store.objects.add([obj])
        return obj.id, len(data)

    def _store_files(self, paths: Sequence[Path]) -> list[tuple[bytes, int]]:
        from ledger.storage.offload import offload

        stored = offload(self.gitdir, paths)  # large files to the store, a pointer in git
        limit = settings.max_artifact_bytes()
        for path in paths:
            size = path.stat().st_size
            if size > limit and path not in stored:
                raise InvalidInputError(
                    f"artifact {str(path)!r} is {size} bytes, above the limit of "
                    f"{limit} (LEDGER_MAX_ARTIFACT_BYTES) for files kept in git; "
                    "keep large files in a store: add [storage] with url = \"s3://bucket/prefix\" "
                    "(or a folder) to ledger.toml"
                )
        # large files are streamed into loose objects; small ones go in one batch (a pack)
        big = {p: stream.write_blob(self.gitdir.objects_dir, p) for p in paths
               if p not in stored and p.stat().st_size > stream.STREAM_ABOVE}
        objs = {p: blob(stored[p][0] if p in stored else p.read_bytes())
                for p in paths if p not in big}
        self.store.objects.add(objs.values())
        return [big[p] if p in big
                else (objs[p].id, stored[p][1] if p in stored else len(objs[p].as_raw_string()))
                for p in paths]

    def _artifact_pairs(self, artifacts: Sequence[tuple[str, str | None]]
                        ) -> dict[str, tuple[bytes, int]]:
        """CLI `-a PATH[:DEST]`: a file goes to DEST (default its name), a folder below DEST."""
        pairs: list[tuple[Path, str]] = []
        for src, dest in artifacts:
            path = Path(src)
            if path.is_file():
                pairs.append((path, names.check_artifact_path(dest or path.name)))
            elif path.is_dir():
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    rel = file.relative_to(path).as_posix()
                    pairs.append((file, names.check_artifact_path(f"{dest}/{rel}" if dest
                                                                  else rel)))
            else:
                raise InvalidInputError(f"artifact {src!r} does not exist")
        stored = self._store_files([p for p, _ in pairs]) if pairs else []
        return {dest: got for (_, dest), got in zip(pairs, stored)}

    def _fingerprint(self, path: str | os.PathLike[str], context: str | None,
                     store: bool = False) -> dict[str, Any]:
        entry = capture.input_fingerprint(path, self.gitdir.work_tree, context)
        if store:
            from ledger.storage.offload import store_input

            store_input(self.gitdir, Path(path))
            entry["stored"] = True
        return entry

    # -- reading ------------------------------------------------------------------------------
    def resolve(self, run_id: str) -> str:
        """The full id of a run given its id or a unique prefix (at least 4 characters)."""
        live = {p.name.split(".", 1)[0] for p in journal.scan(self.journal_dir)}
        return self.store.resolve(run_id, live)

    def split_runs_and_key(self, args: Sequence[str]) -> tuple[list[str], str | None]:
        """`RUN... [KEY]`: the last argument is a metric key when it names no run."""
        if len(args) > 1:
            try:
                self.resolve(args[-1])
            except (RunNotFoundError, InvalidInputError):
                return [self.resolve(a) for a in args[:-1]], args[-1]
        return [self.resolve(a) for a in args], None

    def _live_record(self, rid: str) -> RunRecord | None:
        found: RunRecord | None = None
        for rep in replay.live(self.journal_dir, rid):
            found = rep.record if found is None else merge(found, rep.record)
        return found

    def _current_record(self, rid: str) -> RunRecord:
        folder = self.store.load(self.store.root(self.store.head()), rid)
        live = self._live_record(rid)
        if folder is None:
            return _require(live, rid)
        return folder.record if live is None else merge(folder.record, live)

    def get_run(self, run_id: str) -> Run:
        """One run: committed state merged with what this machine has journaled for it."""
        rid = self.resolve(run_id)
        folder = self.store.load(self.store.root(self.store.head()), rid)
        record = folder.record if folder else None
        for rep in replay.live(self.journal_dir, rid):
            rep.record.add_points(rep.points)
            arts = [{"path": p, "size": s} for p, (_, s) in sorted(rep.artifacts.items())]
            rep.record.artifacts = arts
            record = rep.record if record is None else merge(record, rep.record)
        from ledger.runs.run import Run  # here: `ledger log` never builds one

        return Run.of(_require(record, rid), self.artifact_uri(rid))

    def metric_points(self, run_id: str, key: str | None = None) -> list[Point]:
        rid = self.resolve(run_id)
        tree = self.store.folder_tree(self.store.root(self.store.head()), rid)
        points = self.store.points(tree) if tree else []
        for rep in replay.live(self.journal_dir, rid):
            points.extend(rep.points)
        found = canonical_points(points)
        return [p for p in found if p[0] == key] if key is not None else found

    def artifact_uri(self, run_id: str) -> str:
        """MLflow's artifact URI of a run: `ledger:///abs/repo/runs/<id>/artifacts`."""
        return f"ledger://{self.path.resolve().as_posix()}/runs/{run_id}/artifacts"

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.get_run(run_id).artifacts)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        from ledger.storage.offload import resolve

        return resolve(self.gitdir, self._artifact_blob(run_id, path))

    def _artifact_blob(self, run_id: str, path: str) -> bytes:
        """The artifact's git blob: its bytes, or the pointer to them in the store."""
        rid = self.resolve(run_id)
        path = names.check_artifact_path(path)
        tree = self.store.folder_tree(self.store.root(self.store.head()), rid)
        entry = self.store.objects.lookup(tree, f"artifacts/{path}") if tree else None
        if entry is None:
            for rep in replay.live(self.journal_dir, rid):
                if path in rep.artifacts:
                    return self.store.objects.blob_bytes(rep.artifacts[path][0])
            raise RunNotFoundError(f"run {rid} has no artifact {path!r}")
        if entry[0] & 0o040000:
            raise InvalidInputError(f"{path!r} is a folder of artifacts; give a file path")
        return self.store.objects.blob_bytes(entry[1])

    def read_run_file(self, run_id: str, name: str) -> bytes | None:
        """A file the run's record points to (`source.patch`, `environment.json`), or None."""
        if name not in (PATCH_FILE, PACKAGES_FILE):
            raise InvalidInputError(f"no run file {name!r}: {PATCH_FILE} or {PACKAGES_FILE}")
        rid = self.resolve(run_id)
        tree = self.store.folder_tree(self.store.root(self.store.head()), rid)
        entry = self.store.objects.lookup(tree, name) if tree else None
        return self.store.objects.blob_bytes(entry[1]) if entry else None

    def download_artifacts(self, run_id: str, path: str | None, dst: str | os.PathLike[str]
                           ) -> Path:
        """Write an artifact file, or a folder of them (path None: all), below `dst` (created
        if missing), streaming each file; a stored path that would leave `dst` is refused."""
        return artifacts.download(self, self.resolve(run_id), path, dst)

    def save_artifact(self, run_id: str, path: str, output: str | os.PathLike[str]) -> Path:
        """`ledger get RUN PATH -o OUTPUT`: a file to OUTPUT (or below it, if it is a folder),
        a folder of artifacts below OUTPUT (created if missing)."""
        return artifacts.save(self, self.resolve(run_id), path, output)

    def copy_artifact(self, run_id: str, path: str, out: BinaryIO) -> None:
        """Stream one artifact file into `out` (e.g. stdout)."""
        rid = self.resolve(run_id)
        if not artifacts.copy_to(self, rid, path, out):
            self.read_artifact(rid, path)  # raises the error that says why

    def diff(self, run_ids: Sequence[str], all_keys: bool = False) -> list[dict[str, Any]]:
        """Params, metrics and tags of several runs side by side (differences only by default).

        Each row: {"key": "params.lr", "values": [...]} with None where a run lacks the key.
        """
        if len(run_ids) < 2:
            raise InvalidInputError("diff needs at least two runs")
        runs = [self.get_run(r) for r in run_ids]
        rows = []
        for kind, attr in (("params", "params"), ("metrics", "metrics"), ("tags", "tags")):
            keys = sorted({k for r in runs for k in getattr(r, attr)})
            for key in keys:
                values = [getattr(r, attr).get(key) for r in runs]
                same = all(_same(values[0], v) for v in values[1:])
                if all_keys or not same:
                    rows.append({"key": f"{kind}.{key}", "values": values, "same": same})
        return rows


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return bool(a == b)


def _create(record: RunRecord) -> Any:
    def change(current: RunRecord | None) -> RunRecord:
        if current is not None:
            raise InvalidInputError(f"run {record.id} exists already")
        return record.copy()

    return change


def _override(record: RunRecord, overrides: dict[str, Any]) -> None:
    """Fields an MLflow client gives for its run: user, start time, source name/type/commit."""
    if overrides.get("user"):
        record.user = str(overrides["user"])
    if overrides.get("start_time"):
        record.start_time = names.check_timestamp(overrides["start_time"])
    record.source.update({k: str(v) for k, v in overrides.get("source", {}).items()})
    commit = str(overrides.get("commit") or "")
    if commit and commit != record.source.get("commit") and names.is_commit(commit):
        record.source["commit"] = commit


def _require(record: RunRecord | None, rid: str) -> RunRecord:
    if record is None:
        raise RunNotFoundError(f"no run {rid}")
    return record


def _points(metrics: Sequence[tuple[str, Any, int]], ts: int) -> list[Point]:
    out = []
    for key, value, step in metrics:
        key = names.check_key(key, "metric key")
        out.append((key, names.check_step(step), ts, names.metric_value(key, value)))
    return out


def _default_name(run_id: str) -> str:
    """A readable default name, like MLflow's adjective-animal names but deterministic."""
    adjectives = ("amber", "bold", "calm", "deft", "eager", "fair", "glad", "keen", "lucid",
                  "merry", "noble", "quick", "rapid", "sly", "tidy", "vivid")
    animals = ("ant", "bee", "cat", "doe", "eel", "fox", "gnu", "hen", "ibis", "jay", "koi",
               "lynx", "mole", "newt", "owl", "yak")
    n = int(run_id[-6:], 16)
    return f"{adjectives[n % 16]}-{animals[(n >> 4) % 16]}-{(n >> 8) % 1000}"

