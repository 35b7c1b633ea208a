"""`ledger run`: an MLflow Project with typed parameters, as one run; env managers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ledger.api import Ledger
from ledger.projects import mlproject
from tests.conftest import git, run_ledger

MLPROJECT = """\
name: demo
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      epochs: int
      data: path
      label: {type: string, default: "a b"}
      source: {type: uri, default: "s3://bucket/x"}
    command: "python fit.py {alpha} {epochs} {data} {label}"
"""

FIT = """\
import sys
import ledger

alpha, epochs, data, label = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ledger.log_metric("score", alpha * epochs)
ledger.set_tag("label", label)
ledger.set_tag("extra", " ".join(sys.argv[5:]))
"""


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "MLproject").write_text(MLPROJECT)
    (repo / "fit.py").write_text(FIT)
    (repo / "probe.py").write_text("import sys\nopen('prefix.txt', 'w').write(sys.prefix)\n")
    version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    (repo / "python_env.yaml").write_text(f'python: "{version}"\ndependencies: []\n')
    (repo / "data.csv").write_text("1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "project")
    return repo


def test_a_project_runs_as_one_run_with_its_typed_parameters(project: Path) -> None:
    res = run_ledger("run", ".", "-P", "epochs=3", "-P", "data=data.csv", "-P", "seed=7",
                     cwd=project)
    assert res.code == 0, res.err
    run = Ledger(project).get_run(res.out.strip())
    assert run.info.status == "FINISHED"
    assert run.params == {"alpha": "0.5", "epochs": "3", "data": str(project / "data.csv"),
                          "label": "a b", "source": "s3://bucket/x", "seed": "7"}
    assert run.metrics == {"score": 1.5}
    assert run.tags["label"] == "a b" and run.tags["extra"] == "--seed 7"
    assert run.tags["ledger.project.entry_point"] == "main"
    assert run.source["argv"][:2] == ["sh", "-c"]


@pytest.mark.parametrize(("param", "named"), [
    ("epochs=three", "'epochs' is of type int"),
    ("alpha=fast", "'alpha' is of type float"),
    ("data=nowhere.csv", "'data' is of type path"),
])
def test_a_bad_value_is_refused_before_anything_runs(project: Path, param: str,
                                                     named: str) -> None:
    before = git(project, "for-each-ref", "refs/ledger").stdout
    args = {"epochs": "epochs=1", "data": "data=data.csv"}
    args[param.split("=")[0]] = param
    res = run_ledger("run", ".", *[x for v in args.values() for x in ("-P", v)], cwd=project)
    assert res.code == 1 and named in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1
    assert git(project, "for-each-ref", "refs/ledger").stdout == before


def test_missing_parameter_and_unknown_entry_point(project: Path) -> None:
    res = run_ledger("run", ".", "-P", "epochs=1", cwd=project)
    assert res.code == 1 and "needs the parameter 'data'" in res.err
    res = run_ledger("run", ".", "-e", "nope", cwd=project)
    assert res.code == 1 and "no entry point 'nope'" in res.err


def test_a_script_is_an_entry_point_and_the_exit_code_passes_on(project: Path) -> None:
    (project / "fail.py").write_text("raise SystemExit(3)\n")
    res = run_ledger("run", ".", "-e", "fail.py", cwd=project)
    assert res.code == 3
    assert Ledger(project).get_run(res.out.strip()).info.status == "FAILED"


def test_parameter_types_unit(tmp_path: Path) -> None:
    p = mlproject.Parameter("n", "int")
    assert p.check("12", tmp_path) == "12"
    with pytest.raises(Exception, match="not an integer"):
        p.check("1.5", tmp_path)
    assert mlproject.Parameter("x", "float").check("nan", tmp_path) == "nan"
    assert mlproject.Parameter("u", "uri").check("file:///x", tmp_path) == "file:///x"


@pytest.mark.slow
def test_virtualenv_is_created_once_and_cached_by_content(project: Path, tmp_path: Path) -> None:
    env = {"LEDGER_CACHE_DIR": str(tmp_path / "cache")}
    first = run_ledger("run", ".", "-e", "probe.py", "--env-manager", "virtualenv", cwd=project,
                       env=env)
    assert first.code == 0, first.err
    [made] = (tmp_path / "cache" / "envs").glob("virtualenv-*[!k]")
    assert (project / "prefix.txt").read_text() == str(made)
    stamp = (made / ".ledger-ready").stat().st_mtime_ns
    second = run_ledger("run", ".", "-e", "probe.py", "--env-manager", "virtualenv",
                        cwd=project, env=env)
    assert second.code == 0, second.err
    assert (made / ".ledger-ready").stat().st_mtime_ns == stamp
    run = Ledger(project).get_run(second.out.strip())
    assert run.tags["ledger.project.env_manager"] == "virtualenv"
    assert json.loads(run_ledger("show", run.id, "--format", "json", cwd=project).out)["id"] \
        == run.id


def test_a_project_from_a_git_url_and_a_project_run_reproduces(project: Path,
                                                               tmp_path: Path) -> None:
    bare = tmp_path / "project.git"
    git(tmp_path, "clone", "-q", "--bare", str(project), str(bare))
    res = run_ledger("run", f"file://{bare}", "-P", "epochs=2", "-P",
                     f"data={project / 'data.csv'}", cwd=project)
    assert res.code == 0, res.err
    run = Ledger(project).get_run(res.out.strip())
    assert run.metrics == {"score": 1.0}
    assert run.tags["ledger.project.uri"] == f"file://{bare}"

    local = run_ledger("run", ".", "-P", "epochs=4", "-P", "data=data.csv", cwd=project)
    again = run_ledger("reproduce", local.out.strip(), "--format", "json", cwd=project)
    assert again.code == 0, again.err
    assert json.loads(again.out)["metrics"] == [
        {"key": "score", "recorded": 2.0, "rerun": 2.0, "difference": 0.0, "ok": True}]


@pytest.mark.parametrize("manager", ["uv", "conda"])
def test_a_missing_env_tool_is_one_line_and_nothing_runs(project: Path, manager: str) -> None:
    import shutil

    if shutil.which(manager):
        pytest.skip(f"{manager} is installed here")
    (project / "conda.yaml").write_text("name: x\ndependencies: []\n")
    (project / "MLproject").write_text(MLPROJECT + "conda_env: conda.yaml\n"
                                       if manager == "conda" else MLPROJECT)
    before = git(project, "for-each-ref", "refs/ledger").stdout
    res = run_ledger("run", ".", "-P", "epochs=1", "-P", "data=data.csv", "--env-manager",
                     manager, cwd=project)
    assert res.code == 1 and f"needs {manager} on PATH" in res.err, res.err
    assert git(project, "for-each-ref", "refs/ledger").stdout == before
