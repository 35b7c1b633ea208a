"""`ledger reproduce`: a temporary worktree at the run's commit, its dirty patch, its inputs
checked by digest, its argv, a new tagged run, and a metric comparison; the user's HEAD,
index, work tree and branches untouched."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.api import Ledger
from tests.conftest import git, run_ledger, user_state
from tests.projects.project_support import NOISY, PY, exec_run, training_repo


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").stdout.splitlines()
            if line.startswith("worktree ")]


def test_a_clean_run_reproduces_and_nothing_of_the_user_changes(repo: Path) -> None:
    training_repo(repo)
    rid = exec_run(repo, "2")
    before = user_state(repo)
    res = run_ledger("reproduce", rid[:8], "--format", "json", cwd=repo)
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["ok"] and not out["patched"]
    assert {m["key"]: (m["recorded"], m["rerun"]) for m in out["metrics"]} == {
        "score": (12.0, 12.0), "rows": (3.0, 3.0)}
    new = Ledger(repo).get_run(out["new_run_id"])
    assert new.tags["ledger.reproduces"] == rid
    assert new.source["commit"] == Ledger(repo).get_run(rid).source["commit"]
    assert user_state(repo) == before
    assert len(worktrees(repo)) == 1 and not (repo / ".git" / "worktrees").exists() or \
        not any((repo / ".git" / "worktrees").iterdir())


def test_a_dirty_run_reproduces_from_its_patch(repo: Path) -> None:
    training_repo(repo)
    script = (repo / "train.py").read_text()
    (repo / "train.py").write_text(script.replace("alpha * sum(rows)", "alpha * sum(rows) + 100"))
    git(repo, "add", "train.py")  # staged, not committed: the index differs from HEAD
    rid = exec_run(repo)
    assert Ledger(repo).get_run(rid).metrics["score"] == 103.0
    (repo / "train.py").write_text(script + "# edited again\n")  # the work tree moved on
    before = user_state(repo)
    res = run_ledger("reproduce", rid, "--format", "json", cwd=repo)
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["patched"] and [m["rerun"] for m in out["metrics"] if m["key"] == "score"] == [
        103.0]
    assert user_state(repo) == before
    assert len(worktrees(repo)) == 1


def test_a_nondeterministic_run_exits_1_naming_the_metric(repo: Path) -> None:
    training_repo(repo, NOISY)
    rid = exec_run(repo)
    res = run_ledger("reproduce", rid, "--format", "table", cwd=repo)
    assert res.code == 1
    assert "not reproduced: noise" in res.err and "stable" not in res.err.split("not")[-1]
    assert "noise" in res.out and "NO" in res.out
    loose = run_ledger("reproduce", rid, "--atol", "1", "--format", "json", cwd=repo)
    assert loose.code == 0, loose.err


def test_a_changed_input_is_refused_by_name_before_anything_runs(repo: Path) -> None:
    training_repo(repo)
    rid = exec_run(repo)
    (repo / "data.csv").write_text("1\n2\n4\n")
    before = git(repo, "rev-parse", "refs/ledger/runs").stdout
    res = run_ledger("reproduce", rid, cwd=repo)
    assert res.code == 1 and "input data.csv changed" in res.err, res.err
    assert git(repo, "rev-parse", "refs/ledger/runs").stdout == before
    assert len(worktrees(repo)) == 1


def test_a_stored_input_is_fetched_and_keep_leaves_the_worktree(repo: Path,
                                                                tmp_path: Path) -> None:
    training_repo(repo, TRAIN_STORED)
    (repo / "ledger.toml").write_text(f'[storage]\nurl = "{tmp_path / "store"}"\n')
    rid = exec_run(repo)
    (repo / "data.csv").unlink()
    res = run_ledger("reproduce", rid, "--keep", "--format", "json", cwd=repo)
    assert res.code == 0, res.err
    kept = Path(json.loads(res.out)["worktree"])
    assert (kept / "data.csv").read_text() == "1\n2\n3\n"
    assert not (repo / "data.csv").exists()
    git(repo, "worktree", "remove", "--force", str(kept))


TRAIN_STORED = """\
import ledger

with open("data.csv") as f:
    rows = [float(line) for line in f if line.strip()]
ledger.log_input("data.csv", store=True)
ledger.log_metric("rows", len(rows))
"""


def test_a_script_run_reruns_with_this_interpreter(repo: Path) -> None:
    training_repo(repo, TRAIN_SCRIPT)
    done = run_ledger("log", "-m", "x=1", cwd=repo)  # a run whose argv is not a script
    assert done.code == 0
    res = __import__("subprocess").run([PY, "train.py"], cwd=repo, capture_output=True,
                                       text=True)
    assert res.returncode == 0, res.stderr
    rid = res.stdout.strip()
    again = run_ledger("reproduce", rid, "--format", "json", cwd=repo)
    assert again.code == 0, again.err
    assert json.loads(again.out)["metrics"][0]["rerun"] == 6.0


TRAIN_SCRIPT = """\
import ledger

with ledger.start_run(experiment="script") as run:
    ledger.log_input("data.csv")
    with open("data.csv") as f:
        ledger.log_metric("total", sum(float(x) for x in f if x.strip()))
print(run.id)
"""


def test_an_input_path_that_leaves_the_work_tree_is_refused(repo: Path) -> None:
    training_repo(repo)
    lg = Ledger(repo)
    with lg.open_run() as run:
        run.log_metric("x", 1.0)
    import copy

    from ledger.runs.store import Update

    def escape(current):
        record = copy.deepcopy(current)
        record.add_input({"path": "../outside.csv", "digest": "sha256:" + "0" * 64, "size": 1})
        return record

    lg.store.commit([Update(run.id, escape)])
    res = run_ledger("reproduce", run.id, cwd=repo)
    assert res.code == 1 and "leaves the work tree" in res.err, res.err
    assert not (repo.parent / "outside.csv").exists()
