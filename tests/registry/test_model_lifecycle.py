"""Versions and stages through the CLI: SemVer bumps, GTO's #N counter, reading commands,
and the user's HEAD, index, work tree and branches untouched by every model command."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.conftest import git, user_state
from tests.registry.model_runs import as_json, fails, ledger, log_run, ok, refs


def test_semver_bumps_never_reuse_a_number(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)

    def register(*extra: str) -> str:
        return ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model",
                         *extra))

    assert register() == "iris@v0.0.1"
    assert register() == "iris@v0.0.2"
    assert register("--bump", "patch") == "iris@v0.0.3"
    assert register("--bump", "minor") == "iris@v0.1.0"
    assert register("--bump", "major") == "iris@v1.0.0"
    assert register("--version", "v1.2.3") == "iris@v1.2.3"
    assert register("--version", "v1.1.0") == "iris@v1.1.0"  # an older number is allowed
    assert register() == "iris@v1.2.4"  # bumps the highest, not the last
    assert ok(ledger(repo, "model", "deregister", "iris", "v1.2.4")) == "iris@v1.2.4!"
    assert register() == "iris@v1.2.5"  # a deregistered number is not issued again
    fails(ledger(repo, "model", "register", "iris", "--run", rid, "--version", "v1.2.4"),
          "exists already")
    listed = as_json(ledger(repo, "model", "list", "--format", "json"))
    assert listed == [{"name": "iris", "latest": "v1.2.5", "stages": {}, "versions": 8,
                       "deprecated": False}]
    shown = as_json(ledger(repo, "model", "show", "iris", "--format", "json"))
    assert [v["version"] for v in shown] == ["v1.2.5", "v1.2.4", "v1.2.3", "v1.1.0", "v1.0.0",
                                             "v0.1.0", "v0.0.3", "v0.0.2", "v0.0.1"]
    assert [v["version"] for v in shown if v["deregistered"]] == ["v1.2.4"]


def test_stage_counter_is_one_more_than_any_tag_of_the_model(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    for extra in ((), ("--bump", "minor")):
        ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model", *extra))
        ok(ledger(repo, "model", "register", "other", "--run", rid, "--path", "model", *extra))

    def promote(*args: str) -> str:
        return ok(ledger(repo, "model", "promote", *args))

    assert promote("iris", "v0.0.1", "staging") == "iris#staging#1"
    assert promote("iris", "v0.1.0", "prod") == "iris#prod#2"
    assert promote("other", "v0.0.1", "prod") == "other#prod#1"  # counters are per model
    assert ok(ledger(repo, "model", "demote", "iris", "v0.1.0", "prod")) == "iris#prod!#3"
    # GTO counts every tag of the model, lightweight ones too
    git(repo, "tag", "iris#dev#7", "iris@v0.0.1^{commit}")
    assert promote("iris", "v0.0.1", "prod", "-m", "ship it") == "iris#prod#8"
    assert git(repo, "tag", "-l", "--format=%(contents:subject)", "iris#prod#8").stdout \
        .strip() == "ship it"
    fails(ledger(repo, "model", "promote", "iris", "v0.0.1", "prod"), "in prod already")
    fails(ledger(repo, "model", "promote", "iris", "v9.0.0", "prod"), "not registered")
    fails(ledger(repo, "model", "promote", "iris", "v0.0.1", "Bad Stage"), "invalid stage name")
    fails(ledger(repo, "model", "demote", "iris", "v0.1.0", "prod"), "is not in prod")
    listed = {m["name"]: m for m in as_json(ledger(repo, "model", "list", "--format", "json"))}
    assert listed["iris"]["stages"] == {"prod": "v0.0.1", "staging": "v0.0.1"}
    assert listed["other"]["stages"] == {"prod": "v0.0.1"}
    events = as_json(ledger(repo, "model", "history", "iris", "--format", "json"))
    assert [(e["event"], e["version"], e["stage"], e["tag"]) for e in events
            if e["stage"]] == [
        ("assigned", "v0.0.1", "staging", "iris#staging#1"),
        ("assigned", "v0.1.0", "prod", "iris#prod#2"),
        ("unassigned", "v0.1.0", "prod", "iris#prod!#3"),
        ("assigned", "v0.0.1", "prod", "iris#prod#8"),
    ]
    assert [e["tag"] for e in events if not e["stage"]] == ["iris@v0.0.1", "iris@v0.1.0"]
    shown = as_json(ledger(repo, "model", "show", "iris#prod", "--format", "json"))
    assert [(v["version"], v["stages"]) for v in shown] == [("v0.0.1", ["prod", "staging"])]


def test_deprecate_and_formats(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"))
    ok(ledger(repo, "model", "promote", "iris", "v0.0.1", "prod"))
    table = ok(ledger(repo, "model", "show", "iris", "--format", "table"))
    assert table.splitlines()[0].split()[:3] == ["version", "stages", "run_id"]
    assert "v0.0.1" in table and rid in table
    rows = list(csv.DictReader(io.StringIO(ok(ledger(repo, "model", "list", "--format", "csv")))))
    assert rows == [{"name": "iris", "latest": "v0.0.1", "stages": "prod=v0.0.1",
                     "versions": "1", "deprecated": "False"}]
    history = ok(ledger(repo, "model", "history", "iris", "--format", "csv"))
    assert history.splitlines()[0].startswith("event_time,event,version,stage,tag")
    assert ok(ledger(repo, "model", "deprecate", "iris")) == "iris@deprecated"
    assert as_json(ledger(repo, "model", "list", "--format", "json"))[0]["deprecated"] is True
    fails(ledger(repo, "model", "get", "iris#prod", "-o", str(tmp_path / "out")), "deprecated")
    fails(ledger(repo, "model", "deprecate", "iris"), "deprecated already")
    fails(ledger(repo, "model", "show", "nope"), "'nope' is not in the registry")
    fails(ledger(repo, "model", "show", "iris@1.0"), "invalid model reference")
    # a new version revives the model, as in GTO
    ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"))
    assert as_json(ledger(repo, "model", "list", "--format", "json"))[0]["deprecated"] is False


def test_usage_errors_exit_2(repo: Path) -> None:
    assert ledger(repo, "model", "register", "iris").code == 2  # --run is required
    assert ledger(repo, "model", "get", "iris@latest").code == 2  # -o is required
    assert ledger(repo, "model", "register", "iris", "--run", "abcd", "--bump", "huge").code == 2


def test_model_commands_leave_the_users_state_alone(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    (repo / "train.py").write_text("print('edited, unstaged')\n")
    (repo / "staged.py").write_text("x = 1\n")
    git(repo, "add", "staged.py")
    (repo / "untracked.txt").write_text("u\n")
    (repo / "ledger.toml").write_text('[registry.iris]\nprod = "v0.0.1"\n')
    git(repo, "branch", "feature")
    commands = [
        ["model", "register", "iris", "--run", rid, "--path", "model"],
        ["model", "register", "iris", "--run", rid, "--version", "v0.0.1"],  # refused
        ["model", "register", "iris", "--run", rid, "--bump", "minor"],
        ["model", "promote", "iris", "v0.0.1", "staging"],
        ["model", "demote", "iris", "v0.0.1", "staging"],
        ["model", "list"], ["model", "show", "iris"], ["model", "history", "iris"],
        ["model", "get", "iris@v0.0.1", "-o", str(tmp_path / "out")],
        ["registry", "check"], ["registry", "plan"], ["registry", "apply"],
        ["verify"],  # fails: nothing is signed
        ["model", "deregister", "iris", "v0.1.0"],
        ["model", "deprecate", "iris"],
    ]
    for args in commands:
        before, tags = user_state(repo), refs(repo)
        result = ledger(repo, *args)
        assert result.code in (0, 1), (args, result.err)
        assert user_state(repo) == before, args
        reads = args[0] == "verify" or args[1] in ("list", "show", "history", "get", "check",
                                                   "plan")
        assert (refs(repo) == tags) == (reads or result.code == 1), args
    fsck = git(repo, "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0 and "error" not in fsck.stderr.lower(), fsck.stderr
