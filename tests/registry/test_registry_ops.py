"""Registry operations (one tag each) and the version tag message."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ledger.errors import RegistryError, RegistryLookupError, RegistryNameError, TagExistsError
from ledger.registry import ops
from ledger.registry.message import VersionInfo, format_version_message, parse_version_message
from ledger.registry.state import load_state
from tests.registry.tagging import commit, git_ok


def test_register_numbers_versions_and_records_the_run(repo: Path) -> None:
    info = VersionInfo("0193ab", "abc123", "sha256:00ff", {"acc": 0.92})
    assert ops.register(repo, "iris", "HEAD", info=info) == "iris@v0.0.1"
    assert ops.register(repo, "iris", commit(repo), bump="minor") == "iris@v0.1.0"
    assert ops.register(repo, "iris", commit(repo)) == "iris@v0.1.1"
    assert ops.register(repo, "iris", commit(repo), version="v2.0.0", message="Big one") == (
        "iris@v2.0.0"
    )
    assert git_ok(repo, "tag", "-l", "--format=%(contents:subject)", "iris@v2.0.0") == "Big one"
    shown = git_ok(repo, "tag", "-l", "--format=%(contents)", "iris@v0.0.1")
    assert "run: 0193ab" in shown and "metrics.acc: 0.92" in shown
    assert load_state(repo).version("iris", "v0.0.1").run_id == "0193ab"  # type: ignore[union-attr]


def test_register_refuses(repo: Path) -> None:
    ops.register(repo, "iris", "HEAD")
    with pytest.raises(TagExistsError, match="not reused"):
        ops.register(repo, "iris", commit(repo), version="v0.0.1")
    with pytest.raises(RegistryError, match="is already iris@v0.0.1"):
        ops.register(repo, "iris", "HEAD~1")
    with pytest.raises(RegistryNameError, match="not both"):
        ops.register(repo, "iris", "HEAD", version="v1.0.0", bump="major")
    with pytest.raises(RegistryNameError):
        ops.register(repo, "Iris", "HEAD")
    with pytest.raises(RegistryLookupError, match="no commit"):
        ops.register(repo, "iris", "f" * 40)


def test_promote_unassign_deregister(repo: Path) -> None:
    ops.register(repo, "iris", "HEAD")
    assert ops.promote(repo, "iris", "v0.0.1", "prod") == "iris#prod#1"
    with pytest.raises(RegistryError, match="in prod already"):
        ops.promote(repo, "iris", "v0.0.1", "prod")
    assert ops.promote(repo, "iris", "v0.0.1", "prod", force=True) == "iris#prod#2"
    with pytest.raises(RegistryLookupError, match="not registered"):
        ops.promote(repo, "iris", "v9.0.0", "prod")
    assert ops.unassign(repo, "iris", "v0.0.1", "prod") == "iris#prod!#3"
    assert load_state(repo).current("iris", "prod") is None
    with pytest.raises(RegistryError, match="not in prod"):
        ops.unassign(repo, "iris", "v0.0.1", "prod")
    assert ops.deregister(repo, "iris", "v0.0.1") == "iris@v0.0.1!"
    with pytest.raises(RegistryLookupError, match="was deregistered"):
        ops.promote(repo, "iris", "v0.0.1", "prod")


def test_promote_retries_when_a_counter_is_taken(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops.register(repo, "iris", "HEAD")
    ops.register(repo, "iris", commit(repo))
    stale = load_state(repo)
    ops.promote(repo, "iris", "v0.0.2", "prod")  # takes iris#prod#1 behind stale's back
    calls = []

    def first_stale(path: Path, models: object = None) -> object:
        calls.append(path)
        return stale if len(calls) == 1 else load_state(path, models)  # type: ignore[arg-type]

    monkeypatch.setattr(ops, "load_state", first_stale)
    assert ops.promote(repo, "iris", "v0.0.1", "prod") == "iris#prod#2"
    assert len(calls) == 3  # the stale plan, the retry, the re-read that checks the counter


def test_deprecate(repo: Path) -> None:
    ops.register(repo, "iris", "HEAD")
    assert ops.deprecate(repo, "iris") == "iris@deprecated"
    assert load_state(repo).model("iris").deprecated
    with pytest.raises(RegistryError, match="deprecated already"):
        ops.deprecate(repo, "iris")


def test_version_message_round_trip() -> None:
    info = VersionInfo(
        "0193ab", "c0ffee", "sha256:ab", {"acc": 0.9, "val loss: x": -1.5, "n": math.inf}
    )
    text = format_version_message("iris", "v1.0.0", info)
    assert text.splitlines()[0] == "Registering model iris version v1.0.0"
    assert parse_version_message(text) == info
    nan = parse_version_message(
        format_version_message("m", "v1.0.0", VersionInfo(metrics={"a": math.nan}))
    )
    assert math.isnan(nan.metrics["a"])
    assert parse_version_message("Registering artifact iris version v0.0.1") == VersionInfo()
