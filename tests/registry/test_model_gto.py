"""GTO interoperability through the CLI: `gto show` reads what `ledger model` writes, and
`ledger model show` reads what `gto register/assign` write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import git
from tests.registry.model_runs import as_json, ledger, log_run, ok, tree_files, with_date
from tests.registry.tagging import gto, needs_gto

pytestmark = needs_gto


def test_gto_show_reads_what_ledger_writes(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    clock = iter(range(1_700_000_000, 1_700_100_000, 10))  # GTO orders by tag date

    def run(*args: str) -> str:
        return ok(ledger(repo, "model", *args, env=with_date(next(clock))))

    run("register", "iris", "--run", rid, "--path", "model")
    run("register", "iris", "--run", rid, "--path", "model", "--bump", "minor")
    run("register", "iris", "--run", rid, "--path", "model", "--bump", "major")
    run("register", "team/cnn", "--run", rid)
    run("register", "old", "--run", rid)
    run("promote", "iris", "v0.0.1", "staging")
    run("promote", "iris", "v0.1.0", "production")
    run("promote", "iris", "v0.0.1", "production")
    run("promote", "iris", "v0.1.0", "dev")
    run("demote", "iris", "v0.1.0", "dev")
    run("deregister", "iris", "v1.0.0")
    run("promote", "team/cnn", "v0.0.1", "prod")
    run("deprecate", "old")
    shown = json.loads(gto(repo, "show", "--json"))
    theirs = {name: (info["version"], {s: v for s, v in info["stage"].items() if v})
              for name, info in shown.items()}
    ours = {m["name"]: (m["latest"], m["stages"])
            for m in as_json(ledger(repo, "model", "list", "--format", "json"))
            if not m["deprecated"]}
    assert ours == theirs == {
        "iris": ("v0.1.0", {"staging": "v0.0.1", "production": "v0.0.1"}),
        "team/cnn": ("v0.0.1", {"prod": "v0.0.1"}),
    }
    their_versions = json.loads(gto(repo, "show", "iris", "--json"))
    our_versions = as_json(ledger(repo, "model", "show", "iris", "--format", "json"))
    assert sorted(v["version"] for v in their_versions) == \
        sorted(v["version"] for v in our_versions if not v["deregistered"]) == \
        ["v0.0.1", "v0.1.0"]
    (prod,) = json.loads(gto(repo, "show", "iris#production", "--json"))
    assert prod["version"] == "v0.0.1"


def theirs_by_version(shown: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {v["version"]: sorted(s for s in v["stages"].split(", ") if s) if isinstance(
        v.get("stages"), str) else [] for v in shown}


def test_ledger_reads_what_gto_writes(repo: Path, tmp_path: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").stdout.strip()
    gto(repo, "register", "iris", first)
    (repo / "model.txt").write_text("v2\n")
    git(repo, "add", "model.txt")
    git(repo, "commit", "-qm", "model v2")
    second = git(repo, "rev-parse", "HEAD").stdout.strip()
    gto(repo, "register", "iris", second, "--bump-minor")
    gto(repo, "assign", "iris", "--version", "v0.0.1", "--stage", "staging")
    gto(repo, "assign", "iris", "--version", "v0.1.0", "--stage", "prod")
    shown = as_json(ledger(repo, "model", "show", "iris", "--format", "json"))
    assert [(v["version"], v["commit"], v["stages"], v["run_id"]) for v in shown] == [
        ("v0.1.0", second, ["prod"], None),
        ("v0.0.1", first, ["staging"], None),
    ]
    assert as_json(ledger(repo, "model", "list", "--format", "json")) == [
        {"name": "iris", "latest": "v0.1.0", "stages": {"prod": "v0.1.0", "staging": "v0.0.1"},
         "versions": 2, "deprecated": False}]
    # the ledger continues GTO's counter, and GTO reads the result
    assert ok(ledger(repo, "model", "promote", "iris", "v0.0.1", "prod")) == "iris#prod#3"
    (prod,) = json.loads(gto(repo, "show", "iris#prod", "--json"))
    assert prod["version"] == "v0.0.1"
    # a GTO version's package is the tagged commit's tree
    out = tmp_path / "got"
    ok(ledger(repo, "model", "get", "iris@v0.1.0", "-o", str(out)))
    assert tree_files(out) == {"train.py": b"print('train')\n", "model.txt": b"v2\n"}


def test_deprecation_within_one_second_reads_the_same_in_both(repo: Path,
                                                              tmp_path: Path) -> None:
    """Tag dates have one-second resolution; the ledger waits a second where GTO would
    otherwise break a tie differently."""
    rid = log_run(repo, tmp_path)

    def active() -> tuple[bool, bool]:
        ours = as_json(ledger(repo, "model", "list", "--format", "json"))[0]
        theirs = json.loads(gto(repo, "show", "--json", "--deprecated")).get("iris", {})
        return not ours["deprecated"], bool(theirs.get("active"))

    ok(ledger(repo, "model", "register", "iris", "--run", rid))
    ok(ledger(repo, "model", "deprecate", "iris"))
    assert active() == (False, False)
    ok(ledger(repo, "model", "register", "iris", "--run", rid))  # revives it
    assert active() == (True, True)
