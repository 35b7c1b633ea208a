"""Regression tests from review: recovery of several journals of one run, artifacts that
clash, an artifact called run.json, and logging from several threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.errors import InvalidInputError
from tests.conftest import kill_group, run_ledger

OWNER_AND_CHILD = r"""
import os, subprocess, sys, ledger
run = ledger.Ledger(sys.argv[1]).start_run(experiment="exp1", name="owner-run",
                                           params={"lr": "0.1"})
run.log_metric("loss", 1.0)
run.set_tag("team", "vision")
child = ("import ledger, sys\n"
         "r = ledger.Ledger(sys.argv[1]).attach(sys.argv[2])\n"
         "r.log_param('child_param', 'yes'); r.log_metric('child_metric', 2.0)\n"
         "r.set_tag('child_tag', 'c')\n"
         "print('child ready', flush=True); sys.stdin.read()\n")
proc = subprocess.Popen([sys.executable, "-c", child, sys.argv[1], run.id],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
proc.stdout.readline()
print(run.id, flush=True)
sys.stdin.read()
"""


def test_owner_and_attached_journals_of_one_run_both_recovered(repo: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", OWNER_AND_CHILD, str(repo)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            start_new_session=True,
                            env={**os.environ, "LEDGER_FLUSH_SECONDS": "3600"})
    rid = proc.stdout.readline().strip()
    kill_group(proc)  # the owner and its child die together
    assert run_ledger("recover", cwd=repo).out.split() == [rid]
    run = json.loads(run_ledger("show", rid, "--format", "json", cwd=repo).out)
    assert run["experiment"] == "exp1" and run["name"] == "owner-run"
    assert run["status"] == "KILLED"
    assert run["params"] == {"lr": "0.1", "child_param": "yes"}
    assert run["tags"] == {"team": "vision", "child_tag": "c"}
    assert run["metrics"] == {"loss": 1.0, "child_metric": 2.0}


def test_clashing_artifact_is_refused_when_logged(repo: Path) -> None:
    lg = Ledger(repo)
    with lg.start_run() as run:
        run.log_text("weights", "model")
        with pytest.raises(InvalidInputError, match="clashes"):
            run.log_text("cfg", "model/config.txt")
        run.log_metric("acc", 0.9)
    assert [a["path"] for a in Ledger(repo).get_run(run.id).artifacts] == ["model"]


CLASH_THEN_DIE = r"""
import os, sys, ledger
run = ledger.Ledger(sys.argv[1]).start_run()
run.log_metric("acc", 0.9)
sha = run._ledger._store_blob(b"weights")
sha2 = run._ledger._store_blob(b"cfg")
run._journal_artifacts(["model", "model/config.txt"], [sha, sha2])  # bypass the check
print(run.id, flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_journal_that_cannot_be_stored_whole_does_not_block_commands(repo: Path) -> None:
    out = subprocess.run([sys.executable, "-c", CLASH_THEN_DIE, str(repo)],
                         capture_output=True, text=True)
    rid = out.stdout.strip()
    listed = run_ledger("runs", "--format", "json", cwd=repo)
    assert listed.code == 0, listed.err
    run = json.loads(run_ledger("show", rid, "--format", "json", cwd=repo).out)
    assert run["status"] == "KILLED" and run["metrics"] == {"acc": 0.9}
    assert [a["path"] for a in run["artifacts"]] == ["model"]
    assert run_ledger("log", "-m", "other=1", cwd=repo).code == 0


def test_an_artifact_called_run_json(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"a": 1}\n')
    result = run_ledger("log", "-p", "x=1", "-a", str(tmp_path / "run.json"), cwd=repo)
    assert result.code == 0, result.err
    assert run_ledger("reindex", cwd=repo).out.strip() == "1 runs indexed"
    runs = json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)
    assert runs[0]["artifacts"] == [{"path": "run.json", "size": 9}]


def test_logging_from_several_threads_loses_nothing(repo: Path, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_FLUSH_SECONDS", "0")  # the flush thread commits non-stop
    lg = Ledger(repo)
    run = lg.start_run()

    def work(n: int) -> None:
        for step in range(300):
            run.log_metric(f"t{n}", float(step), step=step)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.end()
    hist = Ledger(repo).get_metric_history(run.id)
    assert hist.num_rows == 900
