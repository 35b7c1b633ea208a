"""The small parts of sharing: tag grammar and plan, git's porcelain, history relations."""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.objects import Commit
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.store.history import Relation, relate
from ledger.store.objects import ObjectStore
from ledger.store.trees import build
from ledger.sync import tags as tagsync
from ledger.sync.remote import _label, git_message, parse_porcelain
from tests.conftest import make_repo


@pytest.mark.parametrize("name", [
    "iris@v1.2.3", "iris@v0.0.1!", "iris@deprecated", "iris#production#3", "iris#prod!#12",
    "cv/resnet-50@v10.0.0", "a#b/c#1", "m_1@v1.0.0", "iris@v1.0.0-rc.1", "iris@v1.0.0+b7",
    "iris@v1.0.0#4", "iris@deprecated#2",
    # GTO reads these too (upper case, the counter-less stage form), so they travel
    "Iris@v1.0.0", "iris#prod", "a//b@v1.0.0"])
def test_registry_tags_are_recognised(name: str) -> None:
    assert tagsync.is_registry_tag(name)


@pytest.mark.parametrize("name", [
    "v1.0", "release-2", "iris@1.2.3", "iris#prod#x", "-x@v1.0.0",
    "iris-@v1.0.0", "iris@v1.2", "iris@v1.0.0#x", "iris#prod#1#2", ""])
def test_other_tags_are_not_ours(name: str) -> None:
    assert not tagsync.is_registry_tag(name)


def test_tag_plan_and_groups() -> None:
    here = {"refs/tags/a@v1.0.0": b"1", "refs/tags/b@v1.0.0": b"2", "refs/tags/v1": b"x",
            "refs/tags/c@v1.0.0": b"3"}
    there = {"refs/tags/b@v1.0.0": b"2", "refs/tags/c@v1.0.0": b"4", "refs/tags/d@v1.0.0": b"5",
             "refs/tags/v2": b"y", "refs/heads/main": b"z"}
    plan = tagsync.plan(here, there)
    assert (plan.missing_here, plan.missing_there, plan.conflicts) == (
        ["d@v1.0.0"], ["a@v1.0.0"], ["c@v1.0.0"])
    assert tagsync.plan(here, there, lambda n: n.startswith("v")).missing_there == ["v1"]
    names = [f"m{i}@v1.0.0" for i in range(45)]
    assert [len(g) for g in tagsync.groups(names)] == [20, 20, 5]
    assert tagsync.refspecs(["a@v1.0.0"]) == ["refs/tags/a@v1.0.0:refs/tags/a@v1.0.0"]


def test_push_porcelain_and_git_messages() -> None:
    text = ("To /tmp/r.git\n"
            "!\tabc:refs/ledger/runs\t[rejected] (fetch first)\n"
            " \trefs/tags/a@v1.0.0:refs/tags/a@v1.0.0\t111..222\n"
            "!\trefs/tags/b:refs/tags/b\t[remote rejected] (cannot lock ref 'refs/tags/b')\n"
            "!\tx:refs/heads/x\t[remote rejected] (pre-receive hook declined)\n"
            "Done\n")
    got = parse_porcelain(text)
    assert [(p.flag, p.dst, p.ok, p.lost_race) for p in got] == [
        ("!", "refs/ledger/runs", False, True), (" ", "refs/tags/a@v1.0.0", True, False),
        ("!", "refs/tags/b", False, True), ("!", "refs/heads/x", False, False)]
    assert got[3].reason == "pre-receive hook declined"
    stderr = (b"fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: "
              b"errno=Connection refused\n\n")
    assert git_message(stderr) == ("unable to connect to 127.0.0.1: 127.0.0.1[0: 127.0.0.1]: "
                                   "errno=Connection refused")
    assert git_message(b"remote: hello\nerror: failed to push some refs\n") == (
        "failed to push some refs")
    assert git_message(b"") == "git failed"
    assert _label("/srv/git/Team Repo.git/").startswith("Team-Repo-git-")
    assert _label("a") != _label("b/a")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(-5, 5)), min_size=1, max_size=25),
       st.integers(0, 30), st.integers(0, 30))
def test_relate_agrees_with_reachability_whatever_the_clocks(
        tmp_path_factory: pytest.TempPathFactory, shape: list[tuple[int, int]], x: int,
        y: int) -> None:
    """A random history (each commit has one or two earlier parents) with skewed clocks."""
    repo = make_repo(tmp_path_factory.mktemp("graph") / "r", commit=False)
    store = ObjectStore(repo / ".git" / "objects")
    out: list = []
    tree = build({}, out)
    commits: list[bytes] = []
    parents_of: dict[bytes, list[bytes]] = {}
    for i, (back, skew) in enumerate(shape):
        c = Commit()
        c.tree = tree
        c.parents = [commits[-1]] if commits else []
        if commits and back and back <= len(commits) and commits[-back] not in c.parents:
            c.parents = [*c.parents, commits[-back]]
        c.author = c.committer = b"t <t@example.com>"
        c.author_time = c.commit_time = 1_000_000 + i * 10 + skew * 100
        c.author_timezone = c.commit_timezone = 0
        c.message = f"c{i}".encode()
        out.append(c)
        commits.append(c.id)
        parents_of[c.id] = list(c.parents)
    store.add(out)

    def reaches(src: bytes, dst: bytes) -> bool:
        todo, seen = [src], set()
        while todo:
            n = todo.pop()
            if n == dst:
                return True
            if n not in seen:
                seen.add(n)
                todo.extend(parents_of[n])
        return False

    a, b = commits[x % len(commits)], commits[y % len(commits)]
    want = (Relation.SAME if a == b else Relation.AHEAD if reaches(a, b)
            else Relation.BEHIND if reaches(b, a) else Relation.DIVERGED)
    assert relate(store, a, b) is want
    store.close()


def test_history_of_two_branches(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", commit=False)
    store = ObjectStore(repo / ".git" / "objects")
    out: list = []
    tree = build({}, out)

    def commit(parents: list[bytes], t: int) -> bytes:
        c = Commit()
        c.tree, c.parents = tree, parents
        c.author = c.committer = b"t <t@example.com>"
        c.author_time = c.commit_time = t
        c.author_timezone = c.commit_timezone = 0
        c.message = b"m"
        out.append(c)
        return c.id

    base = commit([], 100)
    left = commit([commit([base], 50)], 300)  # a clock far behind on one side
    right = commit([base], 200)
    merged = commit([left, right], 400)
    store.add(out)
    assert relate(store, left, right) is Relation.DIVERGED
    assert relate(store, merged, right) is Relation.AHEAD
    assert relate(store, base, merged) is Relation.BEHIND
    assert relate(store, merged, merged) is Relation.SAME
