"""`ledger.Client` (also `ledger.MlflowClient`, `ledger.tracking.MlflowClient`): MlflowClient's
method names over a `Ledger`, for scripts written for MLflow (`import ledger as mlflow`).

Each call commits at once (the fluent API journals instead); runs are `ledger.Run` objects,
which carry MLflow's `info` and `data` fields.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.api import Ledger
from ledger.errors import InvalidInputError
from ledger.mlflow_compat import experiments, search, uri
from ledger.mlflow_compat.entities import Metric
from ledger.mlflow_compat.experiments import Experiment
from ledger.runs import mlflow_tags
from ledger.runs.run import Run


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None


def _pairs(items: Iterable[Any] | dict[str, Any] | None) -> list[tuple[Any, ...]]:
    """Params, tags or metrics given as entities (`.key`, `.value`), tuples or a dict."""
    if items is None:
        return []
    if isinstance(items, dict):
        return list(items.items())
    out: list[tuple[Any, ...]] = []
    item: Any
    for item in items:
        if isinstance(item, (tuple, list)):
            out.append(tuple(item))
        else:
            out.append((item.key, item.value, getattr(item, "timestamp", None),
                        getattr(item, "step", 0)))
    return out


class Client:
    """MlflowClient over the ledger of the repository a tracking URI names."""

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or uri.get_tracking_uri()
        self.ledger = Ledger(uri.repo_path(self.tracking_uri))

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        return experiments.create(self.ledger, name, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return experiments.get(self.ledger, experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return experiments.get_by_name(self.ledger, name)

    def search_experiments(self, view_type: Any = 1, max_results: int | None = None,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None) -> list[Experiment]:
        view = {1: "active", 2: "deleted", 3: "all"}[search.view_type(view_type)]
        found = experiments.list_experiments(self.ledger, view)
        if filter_string:
            found = [e for e in found if _experiment_matches(e, filter_string)]
        found = experiments.sort_experiments(found, list(order_by or []))
        return found[:max_results] if max_results is not None else found

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        experiments.set_tag(self.ledger, experiment_id, key, value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        experiments.delete_tag(self.ledger, experiment_id, key)

    def delete_experiment(self, experiment_id: str) -> None:
        experiments.set_deleted(self.ledger, experiment_id, True)

    def restore_experiment(self, experiment_id: str) -> None:
        experiments.set_deleted(self.ledger, experiment_id, False)

    # -- runs ---------------------------------------------------------------------------------
    def create_run(self, experiment_id: str, start_time: int | None = None,
                   tags: dict[str, Any] | None = None, run_name: str | None = None) -> Run:
        plain, fields = mlflow_tags.split_system_tags(dict(tags or {}))
        if start_time:
            fields["start_time"] = start_time
        rid = self.ledger.create_run(mlflow_tags.experiment_name(experiment_id),
                                     run_name or fields.pop("name", None), plain,
                                     overrides=fields)
        return self.get_run(rid)

    def get_run(self, run_id: str) -> Run:
        return self.ledger.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        parent = self.get_run(run_id).tags.get(mlflow_tags.PARENT_TAG)
        return self.get_run(parent) if parent else None

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool = True) -> Any:
        self.ledger.log_to(run_id, params={key: value})
        return value

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None, synchronous: bool = True, **_: Any) -> None:
        self.log_batch(run_id, metrics=[(key, value, timestamp, step or 0)])

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool = True) -> None:
        self.log_batch(run_id, tags={key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self.ledger.delete_run_tags(run_id, [key])

    def log_batch(self, run_id: str, metrics: Iterable[Any] = (), params: Any = None,
                  tags: Any = None, synchronous: bool = True) -> None:
        """Metrics, params and tags of one run in one commit."""
        from ledger.runs.record import now_ms

        now = now_ms()
        points = [(p[0], p[3] if len(p) > 3 and p[3] else 0, p[2] if len(p) > 2 and p[2] else now,
                   p[1]) for p in _pairs(metrics)]
        self.ledger.log_to(run_id, params=dict(p[:2] for p in _pairs(params)),
                           tags=dict(t[:2] for t in _pairs(tags)), points=points)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None
                   ) -> None:
        if name is not None:
            self.ledger.rename_run(run_id, name)
        if status is not None:
            self.ledger.set_terminated(run_id, status)

    def set_terminated(self, run_id: str, status: str | None = None,
                       end_time: int | None = None) -> None:
        self.ledger.set_terminated(run_id, status or "FINISHED")

    def delete_run(self, run_id: str) -> None:
        self.ledger.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.ledger.restore_run(run_id)

    def search_runs(self, experiment_ids: Any = None, filter_string: str = "",
                    run_view_type: Any = 1, max_results: int = 1000,
                    order_by: Sequence[str] | None = None, page_token: str | None = None
                    ) -> list[Run]:
        offset = int(page_token or 0)
        found = search.table(self.ledger, experiment_ids, filter_string, run_view_type,
                             max_results, order_by, offset)
        return [self.get_run(rid) for rid in found["run_id"].to_pylist()]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        rid = self.ledger.resolve(run_id)
        return [Metric(k, v, ts, step, rid)
                for k, step, ts, v in self.ledger.metric_points(rid, key)]

    # -- artifacts ----------------------------------------------------------------------------
    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None
                     ) -> None:
        name = os.path.basename(os.fspath(local_path))
        dest = f"{artifact_path}/{name}" if artifact_path else name
        self.ledger.log_to(run_id, artifacts=[(os.fspath(local_path), dest)])

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None
                      ) -> None:
        self.ledger.log_to(run_id, artifacts=[(os.fspath(local_dir), artifact_path)])

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._log_bytes(run_id, text.encode(), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        import json

        self._log_bytes(run_id, (json.dumps(dictionary, indent=2) + "\n").encode(),
                        artifact_file)

    def _log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "file")
            with open(path, "wb") as f:
                f.write(data)
            self.ledger.log_to(run_id, artifacts=[(path, artifact_file)])

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return list_children(self.ledger.list_artifacts(run_id), path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None
                           ) -> str:
        dst = dst_path or tempfile.mkdtemp(prefix="ledger-artifacts-")
        return str(self.ledger.download_artifacts(run_id, path or None, dst))


def list_children(files: list[dict[str, Any]], path: str | None) -> list[FileInfo]:
    """The direct children of an artifact folder (MLflow lists one level at a time)."""
    prefix = (path.strip("/") + "/") if path else ""
    seen: dict[str, FileInfo] = {}
    for entry in files:
        rel = entry["path"]
        if not rel.startswith(prefix):
            continue
        head, sep, _ = rel[len(prefix):].partition("/")
        child = prefix + head
        seen[child] = FileInfo(child, True, None) if sep else FileInfo(child, False,
                                                                        entry.get("size"))
    return [seen[k] for k in sorted(seen)]


def _experiment_matches(exp: Experiment, filter_string: str) -> bool:
    """The experiment filters scripts use: `name = 'x'`, `name LIKE 'x%'`, `tags.k = 'v'`."""
    import re

    for clause in re.split(r"\s+AND\s+", filter_string.strip(), flags=re.I):
        m = re.fullmatch(r"(?:(?:attr|attribute|attributes)\.)?(`?name`?|tags?\.`?([^`=!<> ]+)`?)"
                         r"\s*(=|!=|LIKE|ILIKE)\s*(['\"])(.*)\4", clause.strip(), re.I)
        if m is None:
            raise InvalidInputError(f"unsupported experiment filter {clause!r}")
        is_name = m.group(1).strip("`") == "name"
        value = exp.name if is_name else exp.tags.get(m.group(2) or "")
        if value is None:
            return False
        op, want = m.group(3).upper(), m.group(5)
        if op == "=" and value != want or op == "!=" and value == want:
            return False
        if op in ("LIKE", "ILIKE"):
            pattern = "^" + re.escape(want).replace("%", ".*").replace("_", ".") + "$"
            if not re.match(pattern, value, re.I if op == "ILIKE" else 0):
                return False
    return True
