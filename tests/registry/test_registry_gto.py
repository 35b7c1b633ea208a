"""Interoperability with GTO: the same tags mean the same registry to both tools."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ledger.registry.signing import create_tag
from ledger.registry.state import RegistryState, load_state
from ledger.registry.tags import (
    assignment_tag,
    deprecation_tag,
    deregistration_tag,
    unassignment_tag,
)
from tests.registry.tagging import commit, git_ok, gto, needs_gto, register

pytestmark = needs_gto


def gto_show(repo: Path) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(gto(repo, "show", "--json"))
    return shown


def ours_as_gto_show(state: RegistryState) -> dict[str, tuple[str | None, dict[str, str]]]:
    """Our state in the shape of `gto show --json`: active models, latest, stage -> version."""
    result = {}
    for name, model in state.models.items():
        if model.deprecated:
            continue
        latest = model.latest()
        stages = {s: str(e.version) for s, e in model.stages().items()}
        result[name] = (str(latest.version) if latest else None, stages)
    return result


def theirs(shown: dict[str, Any]) -> dict[str, tuple[str | None, dict[str, str]]]:
    return {
        name: (info["version"], {s: v for s, v in info["stage"].items() if v})
        for name, info in shown.items()
    }


class Clock:
    """Distinct, increasing tag times: GTO orders by time, we by counter; make them agree."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch, self.t = monkeypatch, 1_700_000_000

    def tick(self) -> None:
        self.t += 10
        self.monkeypatch.setenv("GIT_COMMITTER_DATE", f"{self.t} +0000")


def test_gto_show_reads_the_tags_we_create(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    shas = {}
    for model, version in [("iris", "v0.0.1"), ("iris", "v0.1.0"), ("iris", "v1.0.0"),
                           ("team/cnn", "v0.0.1"), ("old", "v0.0.1")]:  # fmt: skip
        clock.tick()
        shas[model, version] = register(repo, model, version)
    steps = [
        (deregistration_tag("iris", "v1.0.0"), shas["iris", "v1.0.0"]),
        (assignment_tag("iris", "staging", 1), shas["iris", "v0.1.0"]),
        (assignment_tag("iris", "production", 2), shas["iris", "v0.0.1"]),
        (assignment_tag("iris", "production", 3), shas["iris", "v0.1.0"]),
        (assignment_tag("iris", "dev", 4), shas["iris", "v0.0.1"]),
        (unassignment_tag("iris", "dev", 5), shas["iris", "v0.0.1"]),
        (assignment_tag("team/cnn", "prod", 1), shas["team/cnn", "v0.0.1"]),
        (deprecation_tag("old"), shas["old", "v0.0.1"]),
    ]
    for name, sha in steps:
        clock.tick()
        create_tag(repo, name, sha, f"ledger: {name}")
    state = load_state(repo)
    assert ours_as_gto_show(state) == {
        "iris": ("v0.1.0", {"staging": "v0.1.0", "production": "v0.1.0"}),
        "team/cnn": ("v0.0.1", {"prod": "v0.0.1"}),
    }
    assert theirs(gto_show(repo)) == ours_as_gto_show(state)
    versions = json.loads(gto(repo, "show", "iris", "--json"))
    assert sorted(v["version"] for v in versions) == ["v0.0.1", "v0.1.0"]
    (prod,) = json.loads(gto(repo, "show", "iris#production", "--json"))
    assert prod["version"] == str(state.resolve("iris#production").version.version)  # type: ignore[union-attr]
    (latest,) = json.loads(gto(repo, "show", "iris@latest", "--json"))
    assert latest["version"] == "v0.1.0"


def test_tags_made_by_gto_parse_in_our_state(repo: Path) -> None:
    first = git_ok(repo, "rev-parse", "HEAD")
    gto(repo, "register", "iris", first)
    second = commit(repo)
    gto(repo, "register", "iris", second, "--bump-minor")
    gto(repo, "assign", "iris", "--version", "v0.0.1", "--stage", "staging")
    gto(repo, "assign", "iris", "--version", "v0.1.0", "--stage", "prod")
    gto(repo, "assign", "iris", "--version", "v0.0.1", "--stage", "prod")
    gto(repo, "deprecate", "iris", "v0.0.1", "prod")  # unassign
    gto(repo, "deprecate", "iris", "v0.1.0")  # deregister
    gto(repo, "register", "other", first)
    # GTO compares tag times to decide deprecation; within one second it lets the
    # registration win, we let the deprecation win (no event strictly after it)
    time.sleep(1.1)
    gto(repo, "deprecate", "other")
    tags = set(git_ok(repo, "tag", "--list").split())
    assert tags == {
        "iris@v0.0.1", "iris@v0.1.0", "iris@v0.1.0!", "iris#staging#1", "iris#prod#2",
        "iris#prod#3", "iris#prod!#4", "other@v0.0.1", "other@deprecated",
    }  # fmt: skip
    state = load_state(repo)
    iris = state.model("iris")
    assert {str(v): (x.commit, x.deregistered) for v, x in iris.versions.items()} == {
        "v0.0.1": (first, False),
        "v0.1.0": (second, True),
    }
    assert [(e.tag, e.assigned, str(e.version)) for e in iris.events] == [
        ("iris#staging#1", True, "v0.0.1"),
        ("iris#prod#2", True, "v0.1.0"),
        ("iris#prod#3", True, "v0.0.1"),
        ("iris#prod!#4", False, "v0.0.1"),
    ]
    assert state.current("iris", "prod") is None  # v0.1.0 is deregistered, v0.0.1 unassigned
    assert str(state.resolve("iris#staging").version.version) == "v0.0.1"  # type: ignore[union-attr]
    assert state.next_counter("iris") == 5
    assert state.model("other").deprecated
    assert theirs(gto_show(repo)) == ours_as_gto_show(state)
