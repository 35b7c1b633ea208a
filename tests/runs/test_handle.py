"""`Ledger(path)` has every logging function of the module as a method, on its own active
runs (SPEC §4: "an explicit handle with the same methods")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import ledger
from ledger.api import Ledger

FLUENT = ("start_run", "end_run", "active_run", "last_active_run", "log_param", "log_params",
          "log_metric", "log_metrics", "set_tag", "set_tags", "delete_tag", "log_artifact",
          "log_artifacts", "log_text", "log_dict", "log_input", "flush", "get_run",
          "get_metric_history", "search_runs")


@pytest.mark.parametrize("name", FLUENT)
def test_the_handle_has_every_module_function(name: str) -> None:
    assert callable(getattr(ledger, name))
    assert callable(getattr(Ledger, name)), name


def test_the_handle_logs_into_its_active_run(repo: Path, tmp_path: Path) -> None:
    lg = Ledger(repo)
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    with lg.start_run(experiment="handle", name="h-1") as run:
        assert lg.active_run() is run
        assert lg.log_param("lr", 0.1) == 0.1
        lg.log_params({"depth": 3})
        lg.log_metric("acc", 0.5, step=1)
        lg.log_metrics({"acc": 0.75, "loss": 0.25}, step=2)
        lg.set_tag("team", "vision")
        lg.set_tags({"stage": "tuning", "gone": "x"})
        lg.delete_tag("gone")
        lg.log_artifact(str(data))
        lg.log_artifacts(str(folder), artifact_path="out")
        lg.log_text("hello", "notes/hello.txt")
        lg.log_dict({"k": 1}, "config.json")
        lg.log_input(str(data), context="training")
        lg.flush()
        assert lg.search_runs(where="params.lr = '0.1'").num_rows == 1  # visible after flush
    assert lg.active_run() is None and lg.last_active_run() is run
    got = lg.get_run(run.id)
    assert got.params == {"lr": "0.1", "depth": "3"}
    assert got.metrics == {"acc": 0.75, "loss": 0.25}
    assert got.tags == {"team": "vision", "stage": "tuning"}
    assert got.info.status == "FINISHED"
    assert {a["path"] for a in got.artifacts} == {
        "data.csv", "out/a.txt", "notes/hello.txt", "config.json"}
    assert got.inputs[0]["context"] == "training"
    assert json.loads(lg.read_artifact(run.id, "config.json")) == {"k": 1}
    history = lg.get_metric_history(run.id, "acc").to_pylist()
    assert [(p["step"], p["value"]) for p in history] == [(1, 0.5), (2, 0.75)]


def test_handle_and_module_keep_separate_active_runs(repo: Path, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    lg = Ledger(repo)
    with ledger.start_run(name="module") as outer, lg.start_run(name="handle") as inner:
        assert ledger.active_run() is outer and lg.active_run() is inner
        lg.end_run("FAILED")
        assert lg.active_run() is None and ledger.active_run() is outer
    assert lg.get_run(inner.id).info.status == "FAILED"
    assert lg.get_run(outer.id).info.status == "FINISHED"


def test_active_runs_are_per_thread(repo: Path) -> None:
    lg = Ledger(repo)
    ids: dict[int, str] = {}
    barrier = threading.Barrier(4)

    def trial(i: int) -> None:
        assert lg.active_run() is None  # a new thread starts with no active run
        with lg.start_run(name=f"t{i}") as run:
            barrier.wait()  # all four runs are open at once
            for step in range(50):
                lg.log_metric("m", float(i), step=step)
            ids[i] = run.id

    threads = [threading.Thread(target=trial, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, rid in ids.items():
        values = {p["value"] for p in lg.get_metric_history(rid, "m").to_pylist()}
        assert values == {float(i)}, (i, values)  # no thread's points in another's run


def test_start_run_under_ledger_run_id_with_arguments_starts_a_child(repo: Path) -> None:
    parent = Ledger(repo).create_run(experiment="sweep", name="parent")
    code = ("import ledger\n"
            "for i in range(3):\n"
            "    with ledger.start_run(name=f'trial-{i}', params={'i': i}):\n"
            "        ledger.log_metric('score', i)\n"
            "ledger.log_metric('best', 2)\n")
    env = {**os.environ, "LEDGER_RUN_ID": parent}
    subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, check=True)
    lg = Ledger(repo)
    children = lg.find_runs(where=f"tags.`ledger.parent_run_id` = '{parent}'")
    assert sorted(r.info.run_name for r in children) == ["trial-0", "trial-1", "trial-2"]
    assert sorted(r.params["i"] for r in children) == ["0", "1", "2"]
    assert lg.get_run(parent).metrics == {"best": 2.0}  # a bare call still logs to the parent
