"""The MLflow-style module functions, in real processes (they keep per-process state)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ledger import schema
from tests.conftest import git, run_ledger

SCRIPT = r"""
import json, ledger
out = {}
with ledger.start_run(experiment="flu", name="outer") as outer:
    ledger.log_param("lr", 0.1)
    assert ledger.active_run().id == outer.id
    with ledger.start_run(nested=True, name="inner") as inner:
        ledger.log_metric("acc", 0.5)
        out["inner"] = inner.id
    assert ledger.active_run().id == outer.id
    try:
        ledger.start_run()
    except ledger.LedgerError as exc:
        out["error"] = str(exc)
    ledger.set_tags({"a": "1", "b": "2"})
    ledger.delete_tag("b")
    ledger.log_metrics({"x": 1, "y": 2}, step=4)
    out["outer"] = outer.id
assert ledger.active_run() is None
try:
    with ledger.start_run(name="fails"):
        raise ValueError("boom")
except ValueError:
    pass
ledger.log_metric("auto", 1.0)  # no active run: one is started, and ended at exit
out["auto"] = ledger.active_run().id
print(json.dumps(out))
"""


def test_fluent_api_in_a_process(repo: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "already active" in out["error"] and "nested=True" in out["error"]

    def show(rid: str) -> dict:
        return json.loads(run_ledger("show", rid, "--format", "json", cwd=repo).out)

    outer, inner, auto = show(out["outer"]), show(out["inner"]), show(out["auto"])
    assert outer["status"] == "FINISHED" and outer["params"] == {"lr": "0.1"}
    assert outer["tags"] == {"a": "1"} and outer["metrics"] == {"x": 1.0, "y": 2.0}
    assert inner["tags"] == {"ledger.parent_run_id": out["outer"]}
    assert auto["status"] == "FINISHED" and auto["metrics"] == {"auto": 1.0}
    runs = json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)
    assert {r["name"]: r["status"] for r in runs}["fails"] == "FAILED"
    # every record written by every path matches the schema
    listing = git(repo, "ls-tree", "-r", "--name-only", "refs/ledger/runs").stdout.split()
    for path in (p for p in listing if p.endswith("run.json")):
        doc = json.loads(git(repo, "show", f"refs/ledger/runs:{path}").stdout)
        assert schema.errors(doc, "run") == [], path


def test_keyboard_interrupt_is_killed(repo: Path) -> None:
    code = ("import ledger, json\n"
            "try:\n"
            "    with ledger.start_run() as r:\n"
            "        raise KeyboardInterrupt\n"
            "except KeyboardInterrupt:\n"
            "    print(r.id)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    rid = proc.stdout.strip()
    assert json.loads(run_ledger("show", rid, "--format", "json", cwd=repo).out)["status"] == (
        "KILLED")


def test_param_is_immutable_in_the_api(repo: Path) -> None:
    import pytest

    from ledger.api import Ledger
    from ledger.errors import InvalidInputError

    lg = Ledger(repo)
    with lg.start_run() as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", "0.1")  # same value: fine
        with pytest.raises(InvalidInputError, match="immutable"):
            run.log_params({"other": 1, "lr": 0.2})
        with pytest.raises(InvalidInputError):
            run.log_metric("acc", "not a number")
        with pytest.raises(InvalidInputError):
            run.log_artifact(str(repo / "missing"))
    got = lg.get_run(run.id)
    assert got.params == {"lr": "0.1"}  # the batch with a bad param wrote nothing
