"""The `Ledger` handle: every operation on the runs of one repository, its queries, and the
fluent methods (`lg.start_run()`, `lg.log_metric()`, …) on the handle's own active runs.

    lg = ledger.Ledger("path/to/repo")
    with lg.start_run(experiment="iris") as run:
        lg.log_param("lr", 0.01)
        lg.log_metric("acc", 0.91, step=3)
    lg.search_runs(where="metrics.acc > 0.9")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ledger.errors import DamagedRunError
from ledger.runs.context import Fluent
from ledger.runs.lifecycle import Runs
from ledger.store import gitdir as gitdirs

if TYPE_CHECKING:
    import pyarrow as pa

    from ledger.runs.run import Run


class Ledger(Runs, Fluent):
    """The runs of one git repository. `Ledger()` uses LEDGER_REPO or the current folder."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, recover: bool = True):
        super().__init__(path, recover=recover)
        self._fluent_init()

    def _ledger_for_new_run(self) -> Ledger:
        return self

    def get_metric_history(self, run_ids: str | Sequence[str], key: str | None = None,
                           keys: Sequence[str] | None = None) -> pa.Table:
        """Metric history as an Arrow table: run_id, key, step, timestamp, value.

        `run_ids` is one id (or prefix) or several; `key` (or `keys`) narrows the metrics.
        """
        from ledger.query import history

        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        wanted = [key] if key is not None else (list(keys) if keys else None)
        return history.history(self, [self.resolve(r) for r in ids], wanted)

    def list_runs(self, experiment: str | None = None, include_deleted: bool = False
                  ) -> list[Run]:
        """Every committed run (of an experiment), newest first."""
        return self.find_runs(None, experiment, None, None, include_deleted)

    def search_runs(self, where: str | None = None, experiment: str | None = None,
                    order_by: Sequence[str] | None = None, max_results: int | None = None,
                    include_deleted: bool = False) -> pa.Table:
        """Runs as an Arrow table: run_id, experiment, name, status, start_time, end_time,
        user, then params.*, metrics.* (latest) and tags.*."""
        from ledger.query import search

        return search.search(self, where, experiment, order_by, max_results, include_deleted)

    def find_runs(self, where: str | None = None, experiment: str | None = None,
                  order_by: Sequence[str] | None = None, max_results: int | None = None,
                  include_deleted: bool = False) -> list[Run]:
        """Like `search_runs`, as full `Run` objects."""
        from ledger.query import search
        from ledger.runs.run import Run

        found = search.search(self, where, experiment, order_by, max_results, include_deleted,
                              ids_only=True)
        root = self.store.root(self.store.head())
        out = []
        for rid in found.column("run_id").to_pylist():
            try:
                folder = self.store.load(root, rid)
            except DamagedRunError:
                continue  # listed by damaged_runs()
            if folder is not None:
                out.append(Run.of(folder.record, self.artifact_uri(rid)))
        return out

    def damaged_runs(self) -> list[str]:
        """Ids of committed runs whose record is damaged (listings skip them)."""
        from ledger.query import search

        return search.snapshot(self).damaged()

    def reindex(self) -> int:
        """Rebuild the Parquet snapshot of the run table from the ref; returns the run count."""
        from ledger.query import search

        manifest = search.snapshot(self).rebuild()
        return sum(s.rows for s in manifest.segments)

    def export(self, folder: str | os.PathLike[str], include_deleted: bool = False,
               overwrite: bool = False) -> dict[str, int]:
        """The run table and metric histories as Parquet datasets below `folder`."""
        from ledger.query import export

        return export.export(self, folder, include_deleted, overwrite)

    def experiments(self) -> list[dict[str, Any]]:
        """Experiment names with their run counts (deleted runs counted apart)."""
        from ledger.query import search

        runs = search.snapshot(self).table()
        counts: dict[str, dict[str, Any]] = {}
        for name, deleted, start in zip(runs["experiment"].to_pylist(),
                                        runs["deleted"].to_pylist(),
                                        runs["start_time"].to_pylist()):
            entry = counts.setdefault(name, {"name": name, "runs": 0, "deleted": 0,
                                             "last_start_time": 0})
            entry["deleted" if deleted else "runs"] += 1
            entry["last_start_time"] = max(entry["last_start_time"], start)
        return sorted(counts.values(), key=lambda e: e["name"])


# "Path or handle" (STYLE.md): public functions take a repository path (None: LEDGER_REPO or the
# current folder) or an open Ledger, and close only what they opened.
RepoArg = Union[str, "os.PathLike[str]", "Ledger", None]


def where(repo: RepoArg) -> Path:
    """The folder to run git in, for a path, an open ``Ledger`` or None (no run store opened)."""
    if repo is not None and not isinstance(repo, (str, os.PathLike)):
        return Path(repo.path)
    found = gitdirs.find(repo)
    return found.work_tree or found.git_dir


def open_ledger(repo: RepoArg, recover: bool = True) -> tuple[Ledger, bool]:
    """An open ``Ledger`` and whether this call opened it (and so must close it)."""
    if repo is not None and not isinstance(repo, (str, os.PathLike)):
        return repo, False
    return Ledger(repo, recover=recover), True


def close_ledger(lg: Ledger, opened: bool) -> None:
    """Close `lg` if `open_ledger` opened it (a caller's handle stays open)."""
    if opened:
        lg.store.objects.close()
