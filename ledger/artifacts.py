"""`ledger.artifacts.download_artifacts`, as `mlflow.artifacts.download_artifacts`."""

from __future__ import annotations

from typing import Any


def download_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                       artifact_path: str | None = None, dst_path: str | None = None,
                       tracking_uri: str | None = None) -> str:
    """Download a run's artifacts: by `run_id` (+ `artifact_path`), or by URI
    (`runs:/<id>/<path>` or `ledger:///repo/runs/<id>/artifacts/<path>`)."""
    from ledger.mlflow_compat import uri
    from ledger.mlflow_compat.client import Client

    repo_uri = tracking_uri
    if artifact_uri is not None:
        if artifact_uri.startswith("runs:/"):
            run_id, _, artifact_path = artifact_uri[len("runs:/"):].partition("/")
        else:
            repo, run_id, artifact_path = uri.split_artifact_uri(artifact_uri)
            repo_uri = repo
    if not run_id:
        from ledger.errors import InvalidInputError

        raise InvalidInputError("give artifact_uri, or run_id (and artifact_path)")
    return Client(repo_uri).download_artifacts(run_id, artifact_path or "", dst_path)


def load_text(artifact_uri: str) -> str:
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = download_artifacts(artifact_uri, dst_path=tmp)
        with open(path, encoding="utf-8") as f:
            return f.read() if os.path.isfile(path) else ""


def load_dict(artifact_uri: str) -> Any:
    import json

    return json.loads(load_text(artifact_uri))
