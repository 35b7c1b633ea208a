"""`ledger log` without click (cli/quick.py): the same values as click for every form it
takes, click for every other form, no click imported on the plain path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli import quick
from ledger.cli.runs import log
from tests.conftest import run_ledger

TAKEN = [
    [],
    ["-p", "a=1", "-m", "m=1.0"],
    ["-pa=1", "-mm=2", "-tt=x", "--step", "3"],
    ["--param", "a=1", "--param=b=2", "--metric=m=-1", "-m", "-5"],
    ["--experiment", "e", "-n", "name", "--status", "FAILED", "--step=-2"],
    ["-e", "", "--name=", "-a", "file.txt:dest", "--artifact", "x"],
    ["--run", "0123abcd", "-t", "k=v", "-t", "k2=v2", "--name", "a", "--name", "b"],
    ["--repo", "."],
]
LEFT_TO_CLICK = [
    ["--help"], ["-h"], ["--bogus"], ["-x", "1"], ["-p"], ["--step", "x"], ["extra"],
    ["--", "-p", "a=1"], ["--step"], ["-p", "a=1", "positional"], ["--repo", "afile"],
]


def click_values(args: list[str]) -> dict:
    with log.make_context("log", list(args)) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize("args", TAKEN)
def test_plain_forms_give_click_s_values(args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    assert quick.parse(args, quick.LOG_OPTIONS) == click_values(args)


@pytest.mark.parametrize("env", [{"LEDGER_RUN_ID": "0123abcd"}, {"LEDGER_REPO": "."},
                                 {"LEDGER_RUN_ID": ""}])
def test_environment_variables_as_click_reads_them(env: dict, monkeypatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert quick.parse(["-m", "m=1"], quick.LOG_OPTIONS) == click_values(["-m", "m=1"])


@pytest.mark.parametrize("args", LEFT_TO_CLICK)
def test_anything_else_is_left_to_click(args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    assert quick.parse(args, quick.LOG_OPTIONS) is None


def test_the_plain_path_imports_no_click(repo: Path) -> None:
    code = ("import sys\nfrom ledger import cli\ncli.main(sys.argv[1:])\n"
            "sys.stderr.write('CLICK=' + str('click' in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code, "log", "-p", "a=1", "-m", "m=1"],
                          cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.endswith("CLICK=False"), proc.stderr
    assert len(proc.stdout.strip()) == 32


def test_errors_and_usage_keep_their_exit_codes(repo: Path, tmp_path: Path) -> None:
    bad = run_ledger("log", "-m", "m=x", cwd=repo)
    assert bad.code == 1 and bad.err.startswith("error: ") and len(bad.err.splitlines()) == 1
    usage = run_ledger("log", "--bogus", cwd=repo)
    assert usage.code == 2 and "No such option" in usage.err
    nowhere = run_ledger("log", "-m", "m=1", cwd=tmp_path)
    assert nowhere.code == 1 and "not a git repository" in nowhere.err
    rid = run_ledger("log", "-m", "m=1", "--status", "RUNNING", cwd=repo).out.strip()
    added = run_ledger("log", "-m", "n=2", cwd=repo, env={"LEDGER_RUN_ID": rid})
    assert added.code == 0 and added.out.strip() == rid
    shown = run_ledger("show", rid, "--format", "json", cwd=repo)
    assert '"n": 2' in shown.out
