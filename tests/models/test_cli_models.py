"""`ledger model predict` over every file format, `ledger model dockerfile` (its context's
command run directly: no docker here), and the `ledger models` alias."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_ledger, start_server, stop_server
from tests.models.conftest import Iris, Logged


@pytest.mark.parametrize("src,dst", [("in.csv", "out.csv"), ("in.parquet", "out.parquet"),
                                     ("in.jsonl", "out.jsonl"), ("in.json", "out.json")])
def test_predict_files(logged: Logged, iris: Iris, tmp_path: Path, src: str, dst: str) -> None:
    data = iris.X.sample(frac=1.0, random_state=0)
    path = tmp_path / src
    if src.endswith(".csv"):
        data.to_csv(path, index=False)
    elif src.endswith(".parquet"):
        data.to_parquet(path, index=False)
    elif src.endswith(".jsonl"):
        data.to_json(path, orient="records", lines=True)
    else:
        path.write_text(json.dumps({"dataframe_split": json.loads(
            data.to_json(orient="split", index=False))}))
    out = tmp_path / dst
    done = run_ledger("models", "predict", "models:/iris@latest", "-i", str(path), "-o",
                      str(out), "--batch-rows", "40", cwd=logged.repo)
    assert done.code == 0, done.err
    assert done.out.strip() == str(out)
    expected = iris.model.predict(data).tolist()
    if dst.endswith(".csv"):
        got = pd.read_csv(out)["prediction"].tolist()
    elif dst.endswith(".parquet"):
        got = pd.read_parquet(out)["prediction"].tolist()
    elif dst.endswith(".jsonl"):
        got = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        got = json.loads(out.read_text())["predictions"]
    assert got == expected


def test_predict_refuses_a_schema_violation(logged: Logged, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("sepal_length,other\n1,2\n")
    done = run_ledger("model", "predict", logged.uri, "-i", str(tmp_path / "bad.csv"), "-o",
                      str(tmp_path / "out.csv"), cwd=logged.repo)
    assert done.code == 1
    assert done.err.startswith("error: Model is missing inputs ['sepal_width'")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_the_dockerfile_context_serves_the_model(logged: Logged, iris: Iris,
                                                 tmp_path: Path) -> None:
    import httpx

    ctx = tmp_path / "ctx"
    done = run_ledger("model", "dockerfile", "models:/iris@latest", "-o", str(ctx),
                      "--workers", "1", cwd=logged.repo)
    assert done.code == 0, done.err
    text = (ctx / "Dockerfile").read_text()
    assert "COPY model /opt/ml/model" in text and "-r model/requirements.txt" in text
    cmd_line = next(line for line in text.splitlines() if line.startswith("CMD "))
    command = json.loads(cmd_line[4:])
    assert command[0] == "ledger"
    # the image's command, run in the context folder as WORKDIR, on 127.0.0.1
    server = start_server([sys.executable, "-m", "ledger.cli", *command[1:]], cwd=ctx,
                          env={**os.environ, "LEDGER_SERVE_HOST": "127.0.0.1",
                               "LEDGER_SERVE_PORT": "0"}, ready_path="/ping")
    try:
        body = {"dataframe_split": json.loads(iris.X.head(3).to_json(orient="split",
                                                                      index=False))}
        got = httpx.post(f"{server.url}/invocations", json=body)
        assert got.json() == {"predictions": iris.model.predict(iris.X.head(3)).tolist()}
    finally:
        stop_server(server)


def test_the_models_alias_and_help(logged: Logged) -> None:
    for group in ("model", "models"):
        done = run_ledger(group, "--help", cwd=logged.repo)
        assert done.code == 0
        assert all(name in done.out for name in ("serve", "predict", "dockerfile", "register"))
    done = run_ledger("model", "serve", "runs:/ffff/model", "--port", "0", cwd=logged.repo)
    assert done.code == 1 and done.err.startswith("error: no run")
