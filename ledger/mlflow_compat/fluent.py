"""MLflow's module functions that the ledger's own fluent API (ledger/fluent.py) lacks:
experiments, tracking URIs, figures, images, tables, MLflow-shaped `search_runs`.

`import ledger as mlflow` reaches them through `ledger.__getattr__`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ledger import fluent
from ledger.errors import InvalidInputError, RunStateError
from ledger.mlflow_compat import experiments, search, uri
from ledger.mlflow_compat.client import Client
from ledger.mlflow_compat.experiments import Experiment

if TYPE_CHECKING:
    from ledger.api import Ledger

get_tracking_uri = uri.get_tracking_uri


def set_tracking_uri(tracking_uri: str | os.PathLike[str] | None) -> None:
    """Where new runs go: `ledger:///abs/repo`, `ledger:rel/repo` or a folder."""
    uri.set_tracking_uri(tracking_uri)
    fluent._PROCESS.repo = None if tracking_uri is None else uri.repo_path()


def _ledger() -> Ledger:
    run = fluent.active_run()
    if run is not None:
        return run.ledger  # type: ignore[return-value]
    return fluent._PROCESS._ledger_for_new_run()


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None
                   ) -> Experiment:
    """Make new runs of this process go to an experiment (created when missing)."""
    if experiment_name is None and experiment_id is None:
        raise InvalidInputError("give an experiment name or id")
    lg = _ledger()
    found = (experiments.ensure(lg, experiment_name) if experiment_name is not None
             else experiments.get(lg, str(experiment_id)))
    fluent._PROCESS._experiment = found.name
    return found


def get_experiment(experiment_id: str) -> Experiment:
    return experiments.get(_ledger(), experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return experiments.get_by_name(_ledger(), name)


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: dict[str, Any] | None = None) -> str:
    return experiments.create(_ledger(), name, tags)


def search_experiments(view_type: Any = 1, max_results: int | None = None,
                       filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    return Client(uri.get_tracking_uri()).search_experiments(view_type, max_results,
                                                             filter_string, order_by)


def _current_experiment() -> str:
    from ledger import names

    run = fluent.active_run()
    if run is not None:
        return run.info.experiment  # type: ignore[no-any-return]
    return (fluent._PROCESS._experiment or os.environ.get("LEDGER_EXPERIMENT")
            or names.DEFAULT_EXPERIMENT)


def set_experiment_tag(key: str, value: Any) -> None:
    experiments.set_tag(_ledger(), _current_experiment(), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


def delete_run(run_id: str) -> None:
    _ledger().delete_run(run_id)


def _run_id(run_id: str | None) -> str:
    if run_id:
        return run_id
    run = fluent.active_run()
    if run is None:
        raise RunStateError("no active run: start one with start_run(), or give a run id")
    return run.id


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifact URI (`ledger:///repo/runs/<id>/artifacts[/path]`)."""
    lg = _ledger()
    base = lg.artifact_uri(_run_id(None))
    return f"{base}/{artifact_path.strip('/')}" if artifact_path else base


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
               ) -> None:
    """A matplotlib or plotly figure as an image (or HTML for plotly) artifact."""
    buf = io.BytesIO()
    if hasattr(figure, "savefig"):
        figure.savefig(buf, format=os.path.splitext(artifact_file)[1][1:] or "png",
                       **(save_kwargs or {}))
        data = buf.getvalue()
    elif hasattr(figure, "to_html"):
        data = figure.to_html().encode()
    else:
        raise InvalidInputError(f"log_figure takes a matplotlib or plotly figure, not "
                                f"{type(figure).__name__}")
    _log_bytes(data, artifact_file)


def log_image(image: Any, artifact_file: str | None = None, *, key: str | None = None,
              step: int | None = None, **_: Any) -> None:
    """A numpy array or PIL image as a PNG artifact."""
    if artifact_file is None:
        artifact_file = f"images/{key or 'image'}_step_{step or 0}.png"
    try:
        from PIL import Image
    except ImportError:
        raise InvalidInputError("log_image needs Pillow: pip install pillow") from None
    if not hasattr(image, "save"):
        import numpy as np

        array = np.asarray(image)
        if array.dtype.kind == "f":
            array = (np.clip(array, 0, 1) * 255).astype("uint8")
        image = Image.fromarray(array)
    buf = io.BytesIO()
    image.save(buf, format=os.path.splitext(artifact_file)[1][1:].upper().replace("JPG", "JPEG")
               or "PNG")
    _log_bytes(buf.getvalue(), artifact_file)


def _log_bytes(data: bytes, artifact_file: str) -> None:
    run = fluent.active_run() or fluent.start_run()
    run._add_bytes(data, artifact_file)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """A dict of columns or a DataFrame as a JSON table artifact, in MLflow's layout."""
    if hasattr(data, "to_dict"):
        columns = [str(c) for c in data.columns]
        rows = data.astype(object).values.tolist()
    elif isinstance(data, dict):
        columns = [str(c) for c in data]
        rows = [list(r) for r in zip(*data.values())]
    else:
        raise InvalidInputError("log_table takes a dict of columns or a pandas DataFrame")
    text = json.dumps({"columns": columns, "data": rows}, default=str) + "\n"
    if run_id:
        Client(uri.get_tracking_uri()).log_text(run_id, text, artifact_file)
    else:
        _log_bytes(text.encode(), artifact_file)


def load_table(artifact_file: str, run_ids: list[str] | None = None,
               extra_columns: list[str] | None = None) -> Any:
    """The tables logged as `artifact_file` in these runs (all runs of the current experiment
    by default), concatenated into one DataFrame."""
    import pandas as pd

    lg = _ledger()
    ids = run_ids or [r.id for r in lg.find_runs(experiment=_current_experiment())]
    frames = []
    for rid in ids:
        try:
            doc = json.loads(lg.read_artifact(rid, artifact_file))
        except Exception:
            continue
        frame = pd.DataFrame(doc["data"], columns=doc["columns"])
        for col in extra_columns or []:
            if col == "run_id":
                frame["run_id"] = rid
        frames.append(frame)
    if not frames:
        raise InvalidInputError(f"no run has a table {artifact_file!r}")
    return pd.concat(frames, ignore_index=True)


def log_inputs(datasets: Sequence[Any] | None = None, contexts: Sequence[str | None] | None = None,
               **_: Any) -> None:
    for i, dataset in enumerate(datasets or []):
        fluent.log_input(dataset, context=(contexts or [None] * (i + 1))[i])


def search_runs(where: Any = None, experiment: str | None = None,
                order_by: Sequence[str] | None = None, max_results: int | None = None,
                include_deleted: bool = False, *, experiment_ids: Any = None,
                filter_string: str | None = None, run_view_type: Any = None,
                output_format: str | None = None, search_all_experiments: bool = False,
                experiment_names: Sequence[str] | None = None) -> Any:
    """Runs as an Arrow table (SPEC §4), or MLflow's way: `output_format="pandas"` gives
    MLflow's DataFrame and `"list"` a list of runs, within `experiment_ids` (or
    `experiment_names`; the current experiment by default), `filter_string` in MLflow's
    grammar. A list as first argument is MLflow's positional `experiment_ids`. Called with
    any of MLflow's own arguments, the default output is MLflow's, a DataFrame (where pandas
    is installed), so scripts written for MLflow get what they expect."""
    mlflow_way = search_all_experiments or any(
        arg is not None for arg in (experiment_ids, filter_string, run_view_type,
                                    experiment_names))
    if isinstance(where, (list, tuple)):
        experiment_ids, where, mlflow_way = where, None, True
    if output_format is None and mlflow_way:
        import importlib.util

        output_format = "pandas" if importlib.util.find_spec("pandas") else None
    lg = _ledger()
    unknown = False
    if experiment_names:
        experiment_ids = [e.experiment_id for n in experiment_names
                          if (e := experiments.get_by_name(lg, n)) is not None]
        unknown = not experiment_ids  # none of them exists: nothing matches
    text = " AND ".join(f"({t})" for t in (where, filter_string) if t and t.strip()) or None
    if output_format is None:
        view = search.view_type(run_view_type)
        table = lg.search_runs(search.where_for(experiment_ids, text), experiment, order_by,
                               max_results, include_deleted or view != search.ACTIVE_ONLY)
        return table.slice(0, 0) if unknown else table
    if not experiment_ids and not search_all_experiments and experiment is None:
        from ledger.runs.mlflow_tags import experiment_id

        experiment_ids = [experiment_id(_current_experiment())]
    elif experiment is not None:
        from ledger.runs.mlflow_tags import experiment_id

        experiment_ids = [experiment_id(experiment)]
    view = run_view_type or (search.ALL if include_deleted else search.ACTIVE_ONLY)
    found = search.table(lg, experiment_ids or None, text, view, max_results, order_by)
    if unknown:
        found = found.slice(0, 0)
    if output_format == "list":
        return [lg.get_run(rid) for rid in found["run_id"].to_pylist()]
    if output_format != "pandas":
        raise InvalidInputError(f"output_format must be 'pandas' or 'list', not "
                                f"{output_format!r}")
    return search.to_pandas(search.rows(lg, found))
