"""The command line: exit codes, one-line errors that write nothing, formats, exec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, ledger_state, run_ledger

BAD_LOGS = [
    (["-p", "bad key!=1"], "invalid param key"),
    (["-p", "/lead=1"], "normalized"),
    (["-p", "a/../b=1"], "normalized"),
    (["-p", "a//b=1"], "normalized"),
    (["-p", "trail/=1"], "normalized"),
    (["-p", "k" * 251 + "=1"], "longer than 250"),
    (["-p", "=1"], "non-empty"),
    (["-p", "novalue"], "expected KEY=VALUE"),
    (["-p", "long=" + "v" * 6001], "param value too long"),
    (["-t", "long=" + "v" * 8001], "tag value too long"),
    (["-m", "acc=abc"], "not a number"),
    (["-m", "bad metric!=1"], "invalid metric key"),
    (["-a", "missing-file.bin"], "does not exist"),
    (["-a", "train.py:../escape.py"], "must not contain '..'"),
    (["-a", "train.py:/abs/x"], "relative"),
    (["--status", "DONE"], "invalid status"),
    (["--experiment", "x" * 501], "invalid experiment"),
    (["--experiment", ""], "invalid experiment"),
]


@pytest.mark.parametrize("args,message", BAD_LOGS, ids=[m for _, m in BAD_LOGS])
def test_bad_input_is_one_line_and_writes_nothing(ledger_cli, repo: Path, args, message) -> None:
    ok = ledger_cli("log", "-p", "lr=1", "-m", "acc=0.5")
    assert ok.code == 0, ok.err
    before = ledger_state(repo)
    result = ledger_cli("log", "-p", "fine=1", *args)
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.err
    assert result.out == ""
    assert ledger_state(repo) == before


def test_bad_input_into_existing_run(ledger_cli, repo: Path) -> None:
    rid = ledger_cli("start", "-p", "lr=0.1").out.strip()
    before = ledger_state(repo)
    cases = [
        (["log", "--run", rid, "-p", "lr=0.2", "-m", "acc=1"], "immutable"),
        (["log", "--run", rid[:3], "-m", "acc=1"], "at least 4"),
        (["log", "--run", "ffffffff", "-m", "acc=1"], "no run matches"),
        (["log", "--run", rid, "-m", "acc=1", "--status", "nope"], "invalid status"),
        (["untag", rid, "missing"], "has no tag"),
        (["end", rid, "--status", "DONE"], "invalid status"),
        (["show", "xyz!"], "invalid run id"),
        (["tag", rid, "novalue"], "expected KEY=VALUE"),
    ]
    for args, message in cases:
        result = ledger_cli(*args)
        assert result.code == 1, (args, result)
        assert result.err.count("\n") == 1 and message in result.err, (args, result.err)
        assert ledger_state(repo) == before, args
    same = ledger_cli("log", "--run", rid, "-p", "lr=0.1")  # same value: a no-op, not an error
    assert same.code == 0


def test_ambiguous_prefix(ledger_cli) -> None:
    ids = [ledger_cli("log", "-m", "a=1").out.strip() for _ in range(2)]
    common = os.path.commonprefix(ids)
    if len(common) >= 4:
        result = ledger_cli("show", common)
        assert result.code == 1 and "ambiguous" in result.err
    assert ledger_cli("show", ids[0]).code == 0


def test_outside_a_repository(tmp_path: Path) -> None:
    result = run_ledger("runs", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith("error: not a git repository")


def test_usage_error_exits_2(ledger_cli) -> None:
    assert ledger_cli("log", "--step", "x").code == 2
    assert ledger_cli("no-such-command").code == 2
    assert ledger_cli("end").code == 2


def test_unexpected_error_exits_3(repo: Path, monkeypatch, capsys) -> None:
    from ledger import cli
    from ledger.api import Ledger

    monkeypatch.chdir(repo)

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Ledger, "list_runs", boom)
    monkeypatch.setattr(Ledger, "experiments", boom)
    with pytest.raises(SystemExit) as exc:
        cli.main(["experiments"])
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: disk on fire" in err and "--traceback" in err
    with pytest.raises(RuntimeError):
        cli.main(["--traceback", "experiments"])


def test_formats_and_listing(ledger_cli) -> None:
    a = ledger_cli("log", "-e", "iris", "-n", "one", "-p", "lr=0.1", "-m", "acc=0.9",
                   "-m", "bad=nan", "-t", "team=v").out.strip()
    b = ledger_cli("log", "-e", "iris", "-n", "two", "-p", "lr=0.2", "-m", "acc=0.8").out.strip()
    runs = json.loads(ledger_cli("runs", "--format", "json").out)
    assert [r["id"] for r in runs] == [b, a]
    first = runs[1]
    assert first["metrics"] == {"acc": 0.9, "bad": "NaN"}
    assert set(first) == {"id", "experiment", "name", "status", "start_time", "end_time", "user",
                          "params", "metrics", "tags", "source", "inputs", "artifacts",
                          "deleted"}
    shown = json.loads(ledger_cli("show", a, "--format", "json").out)
    assert shown == first
    csv_out = ledger_cli("runs", "--format", "csv").out.splitlines()
    assert csv_out[0].startswith("run_id,experiment,name,status")
    assert len(csv_out) == 3
    table = ledger_cli("runs", "--format", "table").out
    assert "one" in table and "two" in table
    exps = json.loads(ledger_cli("experiments", "--format", "json").out)
    assert exps[0]["name"] == "iris" and exps[0]["runs"] == 2
    diff = json.loads(ledger_cli("diff", a, b, "--format", "json").out)
    keys = {row["key"] for row in diff}
    assert keys == {"params.lr", "metrics.acc", "metrics.bad", "tags.team"}
    assert ledger_cli("delete", a).code == 0
    assert [r["id"] for r in json.loads(ledger_cli("runs", "--format", "json").out)] == [b]
    everything = json.loads(ledger_cli("runs", "--all", "--format", "json").out)
    assert {r["id"]: r["deleted"] for r in everything} == {a: True, b: False}
    assert ledger_cli("restore", a).code == 0
    assert len(json.loads(ledger_cli("runs", "--format", "json").out)) == 2


def test_start_log_end_from_a_shell(ledger_cli, repo: Path, tmp_path: Path) -> None:
    rid = ledger_cli("start", "-e", "sh", "-p", "lr=0.1").out.strip()
    assert len(rid) == 32
    env = {"LEDGER_RUN_ID": rid}
    for step in range(3):
        assert ledger_cli("log", "-m", f"loss={1 / (step + 1)}", "--step", str(step),
                          env=env).code == 0
    (tmp_path / "w.bin").write_bytes(b"\x00\x01binary\xff")
    assert ledger_cli("log", "-a", f"{tmp_path / 'w.bin'}:weights/w.bin", env=env).code == 0
    assert ledger_cli("tag", rid[:6], "stage=done").code == 0
    assert ledger_cli("end", env=env).code == 0
    shown = json.loads(ledger_cli("show", rid, "--format", "json").out)
    assert shown["status"] == "FINISHED" and shown["tags"] == {"stage": "done"}
    assert shown["metrics"] == {"loss": 1 / 3}
    hist = json.loads(ledger_cli("metrics", rid, "loss", "--format", "json").out)
    assert [h["step"] for h in hist] == [0, 1, 2]
    raw = subprocess.run([sys.executable, "-m", "ledger.cli", "get", rid, "weights/w.bin"],
                         cwd=repo, capture_output=True, check=True)
    assert raw.stdout == b"\x00\x01binary\xff"
    out = tmp_path / "copy.bin"
    assert ledger_cli("get", rid, "weights/w.bin", "-o", str(out)).code == 0
    assert out.read_bytes() == b"\x00\x01binary\xff"
    listed = json.loads(ledger_cli("artifacts", rid, "--format", "json").out)
    assert listed == [{"path": "weights/w.bin", "size": 9}]
    log = git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.splitlines()
    assert log[0] == f"run {rid} finished: loss=0.333333 (alice)"
    assert log[-1] == f"run {rid} started (alice)"


def test_exec_maps_exit_codes_and_child_logs_land(ledger_cli, repo: Path) -> None:
    script = repo.parent / "child.py"
    script.write_text(
        "import sys, ledger\n"
        "ledger.log_metric('acc', 0.75, step=2)\n"
        "ledger.log_param('seed', 7)\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    ok = ledger_cli("exec", "-e", "ex", "--", sys.executable, str(script), "0")
    assert ok.code == 0, ok.err
    rid = ok.err.strip().splitlines()[-1]
    run = json.loads(ledger_cli("show", rid, "--format", "json").out)
    assert run["status"] == "FINISHED" and run["metrics"] == {"acc": 0.75}
    assert run["params"] == {"seed": "7"} and run["experiment"] == "ex"
    assert run["source"]["argv"] == [sys.executable, str(script), "0"]
    bad = ledger_cli("exec", "--", sys.executable, str(script), "3")
    assert bad.code == 3
    rid = bad.err.strip().splitlines()[-1]
    assert json.loads(ledger_cli("show", rid, "--format", "json").out)["status"] == "FAILED"
    killed = ledger_cli("exec", "--", sys.executable, "-c",
                        "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert killed.code == 128 + 15
    rid = killed.err.strip().splitlines()[-1]
    assert json.loads(ledger_cli("show", rid, "--format", "json").out)["status"] == "KILLED"
    shell = ledger_cli("exec", "--", "sh", "-c", 'ledger log -m via_cli=1 || '
                       f'"{sys.executable}" -m ledger.cli log -m via_cli=1')
    assert shell.code == 0, shell.err
    rid = shell.err.strip().splitlines()[-1]
    assert json.loads(ledger_cli("show", rid, "--format", "json").out)["metrics"] == {
        "via_cli": 1.0}
    missing = ledger_cli("exec", "--", "no-such-program-xyz")
    assert missing.code == 1 and "cannot run" in missing.err


def test_init_is_idempotent_and_hooks_chain(ledger_cli, repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho mine\n")
    hook.chmod(0o755)
    first = ledger_cli("init", "--hooks")
    assert first.code == 0 and "pre-push.local" in first.out
    assert (repo / ".git" / "hooks" / "pre-push.local").read_text() == "#!/bin/sh\necho mine\n"
    second = ledger_cli("init", "--hooks")
    assert second.code == 0 and "already installed" in second.out
    assert git(repo, "log", "--format=%s", "refs/ledger/runs").stdout.strip() == (
        "ledger initialized")


def test_help_for_every_command(ledger_cli) -> None:
    from ledger.cli.app import cli

    for name in cli.commands:
        result = ledger_cli(name, "--help")
        assert result.code == 0 and "Usage:" in result.out, name
