"""Registry state from real repositories: versions, stages by counter, latest, counters."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from ledger.errors import RegistryLookupError, RegistryNameError, TagExistsError
from ledger.registry.signing import create_tag
from ledger.registry.state import load_state, run_id_of
from ledger.registry.tagrefs import read_tag_records
from ledger.registry.tags import parse_version
from tests.registry.tagging import assign, commit, git_ok, register

V = parse_version


def test_empty_repository(repo: Path) -> None:
    state = load_state(repo)
    assert state.models == {}
    assert state.next_counter("iris") == 1
    assert str(state.next_version("iris")) == "v0.0.1"
    assert str(state.next_version("iris", "major")) == "v1.0.0"
    with pytest.raises(RegistryLookupError, match="'iris' is not in the registry"):
        state.resolve("iris@latest")


def test_versions_with_commit_tagger_time_message(repo: Path) -> None:
    c1 = register(repo, "iris", "v0.0.1", run="0193ab")
    state = load_state(repo)
    v = state.model("iris").versions[V("v0.0.1")]
    assert (v.commit, v.tag, v.run_id, v.deregistered, v.signed) == (
        c1,
        "iris@v0.0.1",
        "0193ab",
        False,
        False,
    )
    assert v.tagger == "Alice Tester <alice@example.com>"
    assert abs(v.time - time.time()) < 60
    assert v.message.startswith("Registering iris v0.0.1")


def test_latest_is_highest_semver_not_deregistered(repo: Path) -> None:
    register(repo, "iris", "v1.0.0")
    c2 = register(repo, "iris", "v1.10.0")
    register(repo, "iris", "v1.2.0")
    register(repo, "iris", "v2.0.0-rc.1")
    create_tag(repo, "iris@v2.0.0-rc.1!", git_ok(repo, "rev-parse", "HEAD"), "deregister")
    state = load_state(repo)
    assert state.latest("iris").version == V("v1.10.0")  # type: ignore[union-attr]
    assert state.resolve("iris@latest").commit == c2
    assert state.model("iris").versions[V("v2.0.0-rc.1")].deregistered
    with pytest.raises(RegistryLookupError, match="was deregistered"):
        state.resolve("iris@v2.0.0-rc.1")
    with pytest.raises(RegistryLookupError, match="not registered"):
        state.resolve("iris@v9.9.9")
    # the next number skips the deregistered v2.0.0-rc.1: a tag name is never issued twice
    assert str(state.next_version("iris")) == "v2.0.1"
    assert str(state.next_version("iris", "minor")) == "v2.1.0"


def test_reregistration_with_counter_revives_a_version(repo: Path) -> None:
    c1 = register(repo, "iris", "v1.0.0")
    create_tag(repo, "iris@v1.0.0!", c1, "deregister")
    assert load_state(repo).model("iris").versions[V("v1.0.0")].deregistered
    create_tag(repo, "iris@v1.0.0#5", c1, "register again")
    assert not load_state(repo).model("iris").versions[V("v1.0.0")].deregistered


def test_stage_order_follows_counter_not_clock(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c1 = register(repo, "iris", "v1.0.0")
    c2 = register(repo, "iris", "v1.1.0")
    # the later counter carries the *earlier* clock: counters must win
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T00:00:00Z")
    assign(repo, "iris", "prod", c1, 1)
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
    assign(repo, "iris", "prod", c2, 2)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    state = load_state(repo)
    assert [e.tag for e in state.model("iris").events] == ["iris#prod#1", "iris#prod#2"]
    resolved = state.resolve("iris#prod")
    assert (resolved.version.version, resolved.commit, resolved.via) == (  # type: ignore[union-attr]
        V("v1.1.0"),
        c2,
        "iris#prod#2",
    )


def test_unassignment_falls_back_to_the_previous_assignment(repo: Path) -> None:
    c1 = register(repo, "iris", "v1.0.0")
    c2 = register(repo, "iris", "v1.1.0")
    assign(repo, "iris", "prod", c1, 1)
    assign(repo, "iris", "prod", c2, 2)
    assign(repo, "iris", "staging", c2, 3)
    create_tag(repo, "iris#prod!#4", c2, "unassign")
    state = load_state(repo)
    assert state.current("iris", "prod").version == V("v1.0.0")  # type: ignore[union-attr]
    assert set(state.model("iris").stages()) == {"prod", "staging"}
    assert state.model("iris").was_assigned(V("v1.1.0"), "prod")
    create_tag(repo, "iris#prod!#5", c1, "unassign")
    state = load_state(repo)
    assert state.current("iris", "prod") is None
    with pytest.raises(RegistryLookupError, match="no version of 'iris' is in 'prod'"):
        state.resolve("iris#prod")


def test_deregistered_version_leaves_its_stages(repo: Path) -> None:
    c1 = register(repo, "iris", "v1.0.0")
    c2 = register(repo, "iris", "v1.1.0")
    assign(repo, "iris", "prod", c1, 1)
    assign(repo, "iris", "prod", c2, 2)
    create_tag(repo, "iris@v1.1.0!", c2, "deregister")
    assert load_state(repo).current("iris", "prod").version == V("v1.0.0")  # type: ignore[union-attr]


def test_assignment_to_a_commit_without_version(repo: Path) -> None:
    c = commit(repo)
    assign(repo, "iris", "dev", c, 1)
    resolved = load_state(repo).resolve("iris#dev")
    assert (resolved.version, resolved.commit) == (None, c)


def test_next_counter_counts_every_tag_of_the_model(repo: Path) -> None:
    c1 = register(repo, "iris", "v1.0.0")
    assign(repo, "iris", "prod", c1, 3)
    create_tag(repo, "iris@v1.0.0!#7", c1, "deregister with a counter")
    git_ok(repo, "tag", "iris#old#9", c1)  # lightweight: ignored as an event, counted (GTO)
    create_tag(repo, "other#prod#40", c1, "another model")
    state = load_state(repo)
    assert state.next_counter("iris") == 10
    assert state.next_counter("other") == 41
    assert [e.tag for e in state.model("iris").events] == ["iris#prod#3"]


def test_deprecation(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c1 = register(repo, "iris", "v1.0.0")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T00:00:00Z")
    create_tag(repo, "iris@deprecated", c1, "deprecate")
    state = load_state(repo)
    assert state.model("iris").deprecated
    with pytest.raises(RegistryLookupError, match="deprecated"):
        state.resolve("iris@latest")
    assert state.resolve("iris@latest", allow_deprecated=True).commit == c1
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2031-01-01T00:00:00Z")
    register(repo, "iris", "v1.1.0")  # a later event makes the model active again (GTO)
    assert not load_state(repo).model("iris").deprecated


def test_foreign_and_odd_tags_do_not_disturb(repo: Path) -> None:
    c1 = register(repo, "team/iris", "v1.0.0")
    assign(repo, "team/iris", "eu/prod", c1, 1)
    create_tag(repo, "v1.0", c1, "release")
    create_tag(repo, "release-2", c1, "release")
    create_tag(repo, "a@b", c1, "not a version")
    tree = git_ok(repo, "rev-parse", "HEAD^{tree}")
    blob = git_ok(repo, "hash-object", "-w", "/dev/null")
    git_ok(repo, "tag", "iris#tree#1", tree)
    git_ok(repo, "tag", "iris#blob#2", blob)
    git_ok(repo, "tag", "-a", "-m", "tag of a tag", "iris#nested#3", "v1.0")
    create_tag(repo, "odd#x#1", c1, "unicode ✓ and\n\n#hash lines")
    state = load_state(repo)
    assert set(state.models) == {"team/iris", "iris", "odd"}
    assert state.resolve("team/iris#eu/prod").commit == c1
    assert "#hash lines" in state.model("odd").events[0].message
    assert state.next_counter("iris") == 4


def test_created_tags_refuse_to_overwrite(repo: Path) -> None:
    c1 = register(repo, "iris", "v1.0.0")
    with pytest.raises(TagExistsError, match="iris@v1.0.0 exists already"):
        create_tag(repo, "iris@v1.0.0", c1, "again")


def test_resolve_rejects_bad_refs(repo: Path) -> None:
    with pytest.raises(RegistryNameError):
        load_state(repo).resolve("iris")


def test_run_id_line() -> None:
    assert run_id_of("Registering\n\nrun: 0193ab\nmetrics: acc=0.9\n") == "0193ab"
    assert run_id_of("no run here") is None


def _fast_import_repo(path: Path, registry: int, unrelated: int) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    git_ok(path, "commit", "-q", "--allow-empty", "-m", "init")
    head = git_ok(path, "rev-parse", "HEAD")
    chunks = []

    def tag(name: str, message: str) -> None:
        data = message.encode()
        chunks.append(
            f"tag {name}\nfrom {head}\ntagger A <a@b> 1700000000 +0000\n"
            f"data {len(data)}\n{message}\n"
        )

    models, per_model = 20, registry // 20
    for m in range(models):
        for i in range(per_model // 2):
            tag(f"model{m}@v1.{i}.0", f"Registering\n\nrun: {m:04d}{i:028d}\n")
        for i in range(per_model - per_model // 2):
            tag(f"model{m}#prod#{i + 1}", "assign\n")
    for i in range(unrelated):
        tag(f"release-{i}", "release\n")
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"],
        input="".join(chunks).encode(),
        check=True,
    )


def test_2000_registry_tags_among_5000_others(tmp_path: Path) -> None:
    # correctness at size only; the timing lives in bench/bench_registry.py (no timings in tests)
    path = tmp_path / "big"
    _fast_import_repo(path, 2000, 5000)
    assert len(read_tag_records(path)) == 2000
    git_ok(path, "pack-refs", "--all")
    assert len(read_tag_records(path)) == 2000


def test_reader_survives_any_message_bytes(repo: Path) -> None:
    head = git_ok(repo, "rev-parse", "HEAD")
    messages = [b"nul\0inside\n", b"\xff\xfe not utf-8\n", b"", b"no newline", b"\n\n\n"]
    stream = b""
    for i, data in enumerate(messages):
        stream += (
            (
                f"tag iris#s{i}#{i + 1}\nfrom {head}\ntagger A <a@b> 1700000000 +0000\n"
                f"data {len(data)}\n"
            ).encode()
            + data
            + b"\n"
        )
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream, check=True)
    records = read_tag_records(repo)
    assert sorted(r.name for r in records) == [f"iris#s{i}#{i + 1}" for i in range(5)]
    assert load_state(repo).next_counter("iris") == 6


def test_state_of_some_models_only(repo: Path) -> None:
    sha = git_ok(repo, "rev-parse", "HEAD")
    for name in ("iris@v1.0.0", "iris#a/b#1", "iris-2@v1.0.0", "iris/sub@v1.0.0",
                 "iris/sub#prod#1", "d=iris@v1.0.0", "release-1"):
        create_tag(repo, name, sha, name)
    assert {r.name for r in read_tag_records(repo, ["iris"])} == {"iris@v1.0.0", "iris#a/b#1"}
    assert {r.name for r in read_tag_records(repo, ["iris/sub", "d:iris"])} == {
        "iris/sub@v1.0.0", "iris/sub#prod#1", "d=iris@v1.0.0"}
    assert read_tag_records(repo, []) == [] and read_tag_records(repo, ["nope"]) == []
    state = load_state(repo, ["iris"])
    assert set(state.models) == {"iris"}
    assert state.next_counter("iris") == load_state(repo).next_counter("iris") == 2
