"""Where `ledger import` reads an MLflow store.

`ClientSource` reads any tracking URI through MLflow's own client. `SqliteSource` reads a
`sqlite:///…` store's tables directly, in bulk, with the standard library (no MLflow import, no
ORM, one query per table and experiment): what MLflow's client spends per run on a 10,000-run
store is most of an import. What the direct reader does not cover (logged models, registered
models, artifact files) still goes through the client, opened only when the store has any.
Both hand out runs shaped like MLflow's entities (`info`, `data`, `inputs`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError
from ledger.runs.record import Point

IN_CHUNK = 500  # run ids per `IN (…)` query (sqlite's variable limit)


class ImportSourceError(LedgerError):
    """The MLflow store cannot be read."""


def _client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        client.search_experiments(max_results=1)
    except LedgerError:
        raise
    except Exception as exc:
        first = " ".join(str(exc).split())[:200]
        raise ImportSourceError(f"cannot read the MLflow store {tracking_uri!r}: {first}"
                                ) from None
    return client


def tracking_uri_for(source: str) -> str:
    """MLflow's tracking URI for what the user gave (a folder becomes a file: URI); a missing
    folder or database is an error."""
    if "://" not in source and not source.startswith("file:"):
        path = Path(source)
        if not path.is_dir():
            raise ImportSourceError(f"{source!r} is not an MLflow store: no such folder "
                                    "(give ./mlruns, sqlite:///mlflow.db or http://host:port)")
        return path.resolve().as_uri()
    if source.startswith("sqlite:///"):
        db = source[len("sqlite:///"):]
        if not Path(db).is_file():
            raise ImportSourceError(f"no MLflow database at {db!r}")
    return source


class ClientSource:
    """An MLflow store read through MLflow's client."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._opened: Any = None

    @property
    def client(self) -> Any:
        if self._opened is None:
            self._opened = _client(self.tracking_uri)
        return self._opened

    def experiments(self) -> list[Any]:
        """Every experiment (deleted ones too): `experiment_id`, `name`, `tags`,
        `lifecycle_stage`."""
        from mlflow.entities import ViewType

        return list(self.client.search_experiments(view_type=ViewType.ALL))

    def runs(self, experiment_id: str) -> Iterator[Any]:
        """The experiment's runs (deleted ones too), newest first."""
        from mlflow.entities import ViewType

        token = None
        while True:
            page = self.client.search_runs([experiment_id], run_view_type=ViewType.ALL,
                                           max_results=10000, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    def metrics(self, runs: list[Any]) -> dict[str, list[Point]]:
        """Full metric histories of a batch of runs, by run id: one query on an SQL store,
        else one `get_metric_history` per run and key."""
        store = self.client._tracking_client.store
        ids = [r.info.run_id for r in runs]
        out: dict[str, list[Point]] = {}
        if hasattr(store, "ManagedSessionMaker"):
            from mlflow.store.tracking.dbmodels.models import SqlMetric

            with store.ManagedSessionMaker() as session:
                rows = session.query(SqlMetric.run_uuid, SqlMetric.key, SqlMetric.step,
                                     SqlMetric.timestamp, SqlMetric.value, SqlMetric.is_nan
                                     ).filter(SqlMetric.run_uuid.in_(ids)).all()
            _collect(out, rows)
            return out
        for run in runs:
            rid = run.info.run_id
            out[rid] = [(m.key, int(m.step), int(m.timestamp), float(m.value))
                        for key in run.data.metrics
                        for m in self.client.get_metric_history(rid, key)]
        return out

    def logged_models(self, experiment_ids: list[str]) -> dict[str, list[Any]]:
        """MLflow 3's logged models by source run."""
        out: dict[str, list[Any]] = {}
        try:
            token = None
            while True:
                page = self.client.search_logged_models(experiment_ids=experiment_ids,
                                                        page_token=token)
                for model in page:
                    if model.source_run_id:
                        out.setdefault(model.source_run_id, []).append(model)
                token = page.token
                if not token:
                    return out
        except ImportSourceError:
            raise
        except Exception:
            return out  # a store without logged models (MLflow 2)

    def has_registry(self) -> bool:
        return True


def _collect(out: dict[str, list[Point]], rows: Any) -> None:
    """(run id, key, step, timestamp, value, is_nan) rows into points by run."""
    for rid, key, step, ts, value, is_nan in rows:
        out.setdefault(rid, []).append(
            (key, int(step), int(ts), float("nan") if is_nan else float(value)))


# -- sqlite, read directly ---------------------------------------------------------------------
@dataclass
class Tag:
    key: str
    value: str


@dataclass
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RunInfo:
    run_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str | None


@dataclass
class RunData:
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Dataset:
    name: str
    digest: str
    source: str


@dataclass
class DatasetInput:
    dataset: Dataset
    tags: list[Tag] = field(default_factory=list)


@dataclass
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)


@dataclass
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)


NEEDED = {
    "experiments": {"experiment_id", "name", "lifecycle_stage"},
    "experiment_tags": {"key", "value", "experiment_id"},
    "runs": {"run_uuid", "name", "user_id", "status", "start_time", "end_time",
             "lifecycle_stage", "artifact_uri", "experiment_id"},
    "params": {"key", "value", "run_uuid"},
    "tags": {"key", "value", "run_uuid"},
    "metrics": {"key", "value", "timestamp", "step", "is_nan", "run_uuid"},
}


class SqliteSource(ClientSource):
    """A `sqlite:///…` MLflow store, its runs read from its tables directly."""

    def __init__(self, tracking_uri: str, db: sqlite3.Connection, columns: dict[str, set[str]]
                 ) -> None:
        super().__init__(tracking_uri)
        self.db = db
        self.columns = columns

    @classmethod
    def open(cls, tracking_uri: str) -> SqliteSource | None:
        """The store read directly, or None when its schema is not the one this reads."""
        path = Path(tracking_uri[len("sqlite:///"):])
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            tables = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            columns = {t: {r[1] for r in db.execute(f'PRAGMA table_info("{t}")')}
                       for t in tables}
        except sqlite3.Error:
            return None
        if any(not need <= columns.get(table, set()) for table, need in NEEDED.items()):
            db.close()
            return None
        return cls(tracking_uri, db, columns)

    def _count(self, table: str, where: str = "", args: tuple[Any, ...] = ()) -> int:
        if table not in self.columns:
            return 0
        return int(self.db.execute(f'SELECT count(*) FROM "{table}" {where}', args
                                   ).fetchone()[0])

    def _workspace(self, table: str) -> str:
        """Only the default workspace, as MLflow's client sees it (MLflow 3's workspaces)."""
        return "WHERE workspace = 'default'" if "workspace" in self.columns[table] else ""

    def experiments(self) -> list[Any]:
        found = {str(eid): Experiment(str(eid), name, stage or "active")
                 for eid, name, stage in self.db.execute(
                     "SELECT experiment_id, name, lifecycle_stage FROM experiments "
                     f"{self._workspace('experiments')} ORDER BY experiment_id")}
        for key, value, eid in self.db.execute(
                "SELECT key, value, experiment_id FROM experiment_tags"):
            if str(eid) in found:
                found[str(eid)].tags[key] = value
        return list(found.values())

    def runs(self, experiment_id: str) -> Iterator[Any]:
        runs: dict[str, Run] = {}
        for rid, name, user, status, start, end, stage, uri in self.db.execute(
                "SELECT run_uuid, name, user_id, status, start_time, end_time, "
                "lifecycle_stage, artifact_uri FROM runs WHERE experiment_id = ? "
                "ORDER BY start_time DESC, run_uuid", (int(experiment_id),)):
            runs[rid] = Run(RunInfo(rid, name, user, status, start, end, stage or "active", uri))
        for table in ("params", "tags"):
            for rid, key, value in self.db.execute(
                    f'SELECT x.run_uuid, x.key, x.value FROM "{table}" x JOIN runs r '
                    "ON r.run_uuid = x.run_uuid WHERE r.experiment_id = ?",
                    (int(experiment_id),)):
                getattr(runs[rid].data, table)[key] = value
        for run in runs.values():
            if not run.info.run_name:
                run.info.run_name = run.data.tags.get("mlflow.runName")
        self._inputs(experiment_id, runs)
        yield from runs.values()

    def _inputs(self, experiment_id: str, runs: dict[str, Run]) -> None:
        if not {"inputs", "datasets", "input_tags"} <= set(self.columns):
            return
        found: dict[tuple[str, str], DatasetInput] = {}
        for rid, input_id, name, digest, source, tag, value in self.db.execute(
                "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source, "
                "t.name, t.value FROM inputs i "
                "JOIN datasets d ON i.source_id = d.dataset_uuid "
                "JOIN runs r ON r.run_uuid = i.destination_id "
                "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid "
                "WHERE i.destination_type = 'RUN' AND r.experiment_id = ?",
                (int(experiment_id),)):
            entry = found.get((rid, input_id))
            if entry is None:
                entry = found[(rid, input_id)] = DatasetInput(Dataset(name, digest, source))
                runs[rid].inputs.dataset_inputs.append(entry)
            if tag is not None:
                entry.tags.append(Tag(tag, value))

    def metrics(self, runs: list[Any]) -> dict[str, list[Point]]:
        ids = [r.info.run_id for r in runs]
        out: dict[str, list[Point]] = {}
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start:start + IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            _collect(out, self.db.execute(
                "SELECT run_uuid, key, step, timestamp, value, is_nan FROM metrics "
                f"WHERE run_uuid IN ({marks})", chunk))
        return out

    def logged_models(self, experiment_ids: list[str]) -> dict[str, list[Any]]:
        if not self._count("logged_models"):
            return {}
        return super().logged_models(experiment_ids)

    def has_registry(self) -> bool:
        return self._count("registered_models") > 0


def open_source(source: str) -> ClientSource:
    """The reader for what the user named (see `tracking_uri_for`); a store that cannot be
    read is an ImportSourceError."""
    tracking_uri = tracking_uri_for(source)
    if tracking_uri.startswith("sqlite:///"):
        direct = SqliteSource.open(tracking_uri)
        if direct is not None:
            return direct
    found = ClientSource(tracking_uri)
    found.client  # noqa: B018 -- fails here, with one line, if the store cannot be read
    return found
