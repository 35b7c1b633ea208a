"""Bad input is refused at validation with one line, and nothing is half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.errors import InvalidInputError
from ledger.runs import journal
from tests.conftest import git, run_ledger


def test_huge_step_on_the_fast_path_is_refused(repo: Path) -> None:
    lg = Ledger(repo)
    with lg.open_run("e") as run:
        run.log_metric("m", 1.0, step=3)
        for bad in (2**63, -(2**63) - 1, 2**70):
            with pytest.raises(InvalidInputError):
                run.log_metric("m", 1.0, step=bad)
    assert [p[1] for p in Ledger(repo).metric_points(run.id)] == [3]
    assert run_ledger("runs", cwd=repo).code == 0


def test_numpy_steps_and_values(repo: Path) -> None:
    np = pytest.importorskip("numpy")
    lg = Ledger(repo)
    with lg.open_run("e") as run:
        run.log_metric("a", np.float32(0.5), step=np.int64(2))
        run.log_metric("b", np.float64(1.5), step=np.int32(3))
        run.log_metrics({"c": np.int64(4)}, step=np.uint8(4))
        with pytest.raises(InvalidInputError):
            run.log_metric("d", np.array([1.0, 2.0]))
        with pytest.raises(InvalidInputError):
            run.log_metric("d", 1.0, step=np.float64(1.5))
    points = {p[0]: (p[1], p[3]) for p in Ledger(repo).metric_points(run.id)}
    assert points == {"a": (2, 0.5), "b": (3, 1.5), "c": (4, 4.0)}
    assert all(type(v) is float for _, v in points.values())


def test_lone_surrogates_are_refused_and_change_nothing(repo: Path) -> None:
    lg = Ledger(repo)
    run = lg.open_run("e")
    run.set_tag("ok", "fine")
    for call in (lambda: run.set_tag("t", "bad\udcff"), lambda: run.log_param("p", "\ud800"),
                 lambda: run.set_tags({"u": "x", "v": "\udcfe"}),
                 lambda: run.log_text("x", "a\udcffb.txt"), lambda: run.log_text("\udcff", "t"),
                 lambda: run.log_dict({"k": "\udcff"}, "d.json")):
        with pytest.raises(InvalidInputError, match="UTF-8"):
            call()
    run.end()
    got = Ledger(repo).get_run(run.id)
    assert got.info.status == "FINISHED" and got.tags.get("ok") == "fine"
    assert "t" not in got.tags and "u" not in got.tags and got.params == {}
    with pytest.raises(InvalidInputError):
        lg.open_run("exp\udcff")
    with pytest.raises(InvalidInputError):
        lg.log_run("e", "n", tags={"k": "\udcff"})
    assert not list(journal.scan(lg.journal_dir))


def test_non_utf8_command_line_and_file_names(repo: Path, tmp_path: Path) -> None:
    before = git(repo, "for-each-ref", "refs/ledger").stdout
    ledger = [sys.executable, "-m", "ledger.cli"]
    for args in ([b"log", b"-p", b"lr=\xff"], [b"log", b"-t", b"k=\xe9t\xe9"],
                 [b"log", b"-e", b"exp\xff"], [b"log", b"-n", b"name\xff"]):
        proc = subprocess.run([*ledger, *args], cwd=repo, capture_output=True)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith(b"error:") and proc.stderr.count(b"\n") == 1
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as f:  # Latin-1 name
        f.write(b"latin")
    proc = subprocess.run([*ledger, "log", "-a", str(folder)], cwd=repo, capture_output=True)
    assert proc.returncode == 1 and b"UTF-8" in proc.stderr, proc.stderr
    assert git(repo, "for-each-ref", "refs/ledger").stdout == before
    # an argv that is not UTF-8 is recorded escaped, not refused
    proc = subprocess.run([*ledger, "log", "-m", "a=1", b"--name=ok"], cwd=repo,
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr


def test_a_param_given_twice_is_refused(repo: Path) -> None:
    res = run_ledger("log", "-p", "lr=0.1", "-p", "lr=0.5", cwd=repo)
    assert res.code == 1 and "lr" in res.err and res.err.startswith("error:")
    res = run_ledger("start", "-p", "lr=0.1", "-p", "lr=0.5", cwd=repo)
    assert res.code == 1
    assert run_ledger("log", "-p", "lr=0.1", "-p", "lr=0.1", cwd=repo).code == 0
    assert len(Ledger(repo).list_runs()) == 1


def test_get_output_paths(repo: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "a.bin").write_bytes(b"A" * 10)
    (model / "sub" / "b.txt").write_text("B")
    rid = Ledger(repo).log_run("e", "r", artifacts=[(str(model), "model")])
    work = tmp_path / "work"
    work.mkdir()
    env = {"LEDGER_REPO": str(repo)}
    # a folder into a new folder
    res = run_ledger("get", rid, "model", "-o", "newdir", cwd=work, env=env)
    assert res.code == 0, res.err
    assert (work / "newdir" / "model" / "sub" / "b.txt").read_text() == "B"
    # a file into a folder that does not exist yet
    res = run_ledger("get", rid, "model/a.bin", "-o", "missing/deeper/a.bin", cwd=work, env=env)
    assert res.code == 0, res.err
    assert (work / "missing" / "deeper" / "a.bin").read_bytes() == b"A" * 10
    # a file into an existing folder
    res = run_ledger("get", rid, "model/a.bin", "-o", "newdir", cwd=work, env=env)
    assert res.code == 0 and (work / "newdir" / "model" / "a.bin").exists()
    # no output path at all
    res = run_ledger("get", rid, "model/a.bin", "-o", "", cwd=work, env=env)
    assert res.code == 1 and res.err.startswith("error:")
    res = run_ledger("get", rid, "model/a.bin", cwd=work, env=env)
    assert res.code == 0 and res.out == "A" * 10
    assert not [p for p in work.rglob("*") if p.name.endswith(".tmp")]
    assert sorted(p.name for p in work.iterdir()) == ["missing", "newdir"]


def test_snapshot_follows_the_ref_moving_back(repo: Path) -> None:
    lg = Ledger(repo)
    first = lg.log_run("e", "one")
    mark = git(repo, "rev-parse", "refs/ledger/runs").stdout.strip()
    lg.log_run("e", "two")
    assert len(json.loads(run_ledger("runs", "--format", "json", cwd=repo).out)) == 2
    assert run_ledger("runs", "--format", "csv", cwd=repo).out.count("\n") == 3
    git(repo, "update-ref", "refs/ledger/runs", mark)
    for fmt in ("json", "csv"):
        res = run_ledger("runs", "--format", fmt, cwd=repo)
        assert res.code == 0 and first in res.out
        assert (len(json.loads(res.out)) if fmt == "json" else res.out.count("\n") - 1) == 1


def test_model_register_without_git_identity(repo: Path, tmp_path: Path) -> None:
    art = tmp_path / "m.pkl"
    art.write_bytes(b"model")
    rid = Ledger(repo).log_run("e", "r", artifacts=[(str(art), "model/m.pkl")])
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    git(repo, "config", "--unset", "user.name", check=False)
    env = {"GIT_CONFIG_GLOBAL": str(empty), "HOME": str(tmp_path / "nohome"),
           "EMAIL": "", "LEDGER_USER": "bob"}
    res = run_ledger("model", "register", "iris", "--run", rid, "--path", "model", cwd=repo,
                     env=env)
    assert res.code == 0, res.err
    tagger = git(repo, "for-each-ref", "--format=%(taggername)", "refs/tags/iris@v0.0.1")
    assert tagger.stdout.strip() == "bob"
    res = run_ledger("model", "promote", "iris", "v0.0.1", "prod", cwd=repo, env=env)
    assert res.code == 0, res.err


@pytest.mark.slow
def test_metrics_never_abort_at_exit(repo: Path) -> None:
    """`ledger metrics` aborted (exit 134) at interpreter exit now and then: pyarrow's thread
    pool reading Parquet through a Python file object. Many short processes, all clean."""
    rid = Ledger(repo).log_run("e", "r", metrics=[("acc", 0.5, 0), ("loss", 0.1, 1)])
    body = ("import sys, ledger\nlg = ledger.Ledger(sys.argv[1])\n"
            "assert lg.get_metric_history(sys.argv[2]).num_rows == 2\n")
    codes = [subprocess.run([sys.executable, "-c", body, str(repo), rid]).returncode
             for _ in range(20)]
    assert set(codes) == {0}


def test_non_utf8_ledger_toml_is_one_line(repo: Path) -> None:
    (repo / "ledger.toml").write_bytes(b"[registry.iris]\nprod = \"v\xe9\"\n")
    for args in (("registry", "check"), ("registry", "plan")):
        res = run_ledger(*args, cwd=repo)
        assert res.code == 1 and "UTF-8" in res.out + res.err, res.err
        assert res.err.startswith("error:") and res.err.count("\n") == 1, res.err
