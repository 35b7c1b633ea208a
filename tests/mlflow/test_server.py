"""`mlflow server --backend-store-uri ledger:///repo` serves MLflow's REST API over the ledger."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ledger.api import Ledger
from tests.mlflow.conftest import needs_plugin

pytestmark = [pytest.mark.slow, needs_plugin]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")  # type: ignore[no-any-return]


def test_rest_api_creates_and_searches_runs(repo: Path, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    mlflow = Path(sys.executable).parent / "mlflow"
    server = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", f"ledger://{repo}", "--host",
         "127.0.0.1", "--port", str(port), "--workers", "1",
         "--artifacts-destination", str(tmp_path / "artifacts")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(1)
        exp = call(base, "/api/2.0/mlflow/experiments/create", {"name": "rest"})
        assert exp["experiment_id"] == "rest"
        created = call(base, "/api/2.0/mlflow/runs/create",
                       {"experiment_id": "rest", "run_name": "r1",
                        "tags": [{"key": "team", "value": "api"}]})
        run_id = created["run"]["info"]["run_id"]
        for step, value in enumerate((0.5, 0.9)):
            call(base, "/api/2.0/mlflow/runs/log-metric",
                 {"run_id": run_id, "key": "acc", "value": value, "step": step,
                  "timestamp": 1000 + step})
        call(base, "/api/2.0/mlflow/runs/log-parameter",
             {"run_id": run_id, "key": "lr", "value": "0.1"})
        found = call(base, "/api/2.0/mlflow/runs/search",
                     {"experiment_ids": ["rest"], "filter": "metrics.acc > 0.8"})
        assert [r["info"]["run_id"] for r in found["runs"]] == [run_id]
        assert not call(base, "/api/2.0/mlflow/runs/search",
                        {"experiment_ids": ["rest"], "filter": "params.lr = '0.2'"})
        call(base, "/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "FINISHED"})
        got = call(base, f"/api/2.0/mlflow/runs/get?run_id={run_id}")["run"]
        assert got["info"]["status"] == "FINISHED"
        tags = {t["key"]: t["value"] for t in got["data"]["tags"]}
        assert tags["team"] == "api" and tags["mlflow.runName"] == "r1"
        history = call(base, f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=acc")
        assert [m["value"] for m in history["metrics"]] == [0.5, 0.9]
        assert urllib.request.urlopen(base + "/", timeout=60).status == 200  # the UI
    finally:
        server.terminate()
        server.wait(timeout=60)
    run = Ledger(repo).get_run(run_id)
    assert run.params == {"lr": "0.1"} and run.metrics == {"acc": 0.9}
    assert run.info.status == "FINISHED" and run.info.experiment == "rest"
