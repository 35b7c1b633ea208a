"""P3 on whole ledgers: merge(A, B) and merge(B, A) give the same tree, merge(A, A) = A, and
nothing either side logged is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.api import Ledger
from ledger.runs.store import RUNS_REF
from ledger.store.history import Relation, relate
from ledger.sync import merge as ledger_merge
from ledger.sync.merge import MergeContext, merge_roots
from tests.conftest import make_repo

# an operation on one side: (kind, run index, value)
ops = st.lists(st.tuples(
    st.sampled_from(["new", "tag", "untag", "delete", "restore", "end", "metric", "artifact",
                     "param"]),
    st.integers(0, 3), st.sampled_from(["x", "y", "z"])), max_size=6)


def apply(lg: Ledger, base_ids: list[str], steps: list[tuple[str, int, str]],
          tmp: Path) -> None:
    ids = list(base_ids)
    for kind, i, value in steps:
        rid = ids[i % len(ids)]
        if kind == "new":
            ids.append(lg.log_run("e", params={"v": value}, metrics=[("acc", 0.5, 1)],
                                  status="RUNNING" if value == "x" else "FINISHED"))
        elif kind == "tag":
            lg.set_run_tags(rid, {"t": value})
        elif kind == "untag" and "t" in lg.get_run(rid).tags:
            lg.delete_run_tags(rid, ["t"])
        elif kind == "delete":
            lg.delete_run(rid)
        elif kind == "restore":
            lg.restore_run(rid)
        elif kind == "end" and lg.get_run(rid).info.status == "RUNNING":
            lg.set_terminated(rid, "FAILED" if value == "y" else "FINISHED")
        elif kind == "metric":
            lg.log_to(rid, metrics=[("loss", 0.25 if value == "x" else 0.75, i)])
        elif kind == "artifact":
            src = tmp / f"art-{value}.txt"
            src.write_text(f"content {value} {i}\n" * (i + 1))
            lg.log_to(rid, artifacts=[(str(src), "model.txt")])
        elif kind == "param":
            lg.log_to(rid, params={f"p{value}": value})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ledger, list[str], bytes, Path]:
    repo = make_repo(tmp_path_factory.mktemp("merge") / "repo")
    lg = Ledger(repo)
    ids = [lg.log_run("base", metrics=[("acc", 0.1, 0)], status="RUNNING"),
           lg.log_run("base", metrics=[("acc", 0.2, 0)], tags={"t": "base"})]
    return lg, ids, lg.store.head(), repo.parent


def diverge(lg: Ledger, base: bytes, ids: list[str], steps, tmp: Path) -> bytes:
    lg.store.refs.swap(RUNS_REF, lg.store.head(), base)
    apply(lg, ids, steps, tmp)
    return lg.store.head()


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(left=ops, right=ops)
def test_merge_is_commutative_idempotent_and_loses_nothing(world, left, right) -> None:
    lg, ids, base, tmp = world
    a = diverge(lg, base, ids, left, tmp)
    b = diverge(lg, base, ids, right, tmp)
    store = lg.store
    ra, rb = store.root(a), store.root(b)

    ab = merge_roots(ctx := MergeContext(store.objects), ra, rb)
    store.objects.add(ctx.out)
    ba = merge_roots(ctx := MergeContext(store.objects), rb, ra)
    store.objects.add(ctx.out)
    assert ab == ba
    assert merge_roots(MergeContext(store.objects), ra, ra) == ra
    # merging a side again changes nothing (the merged state already holds it)
    assert merge_roots(MergeContext(store.objects), ab, ra) == ab
    assert merge_roots(MergeContext(store.objects), rb, ab) == ab

    for rid in set(store.run_ids(ra)) | set(store.run_ids(rb)):
        merged = store.load(ab, rid)
        assert merged is not None
        sides = [f for f in (store.load(ra, rid), store.load(rb, rid)) if f]
        want = set()
        for side in sides:
            want |= set(map(repr, store.points(side.tree)))
        assert set(map(repr, store.points(merged.tree))) == want
        # the derived latest values agree with the merged points
        for key, value in merged.record.metrics.items():
            assert repr(value) in {repr(p[3]) for p in store.points(merged.tree) if p[0] == key}
        files = {p for p, _m, _s in store.artifact_files(merged.tree)}
        assert files == {e["path"] for e in merged.record.artifacts}


def test_merge_history_fast_forwards_and_commits_merges(world) -> None:
    lg, ids, base, tmp = world
    store = lg.store
    a = diverge(lg, base, ids, [("tag", 0, "x"), ("new", 0, "y")], tmp)
    b = diverge(lg, base, ids, [("tag", 0, "y"), ("metric", 1, "x")], tmp)
    assert relate(store.objects, a, base) is Relation.AHEAD
    assert relate(store.objects, base, a) is Relation.BEHIND
    assert relate(store.objects, a, b) is Relation.DIVERGED

    store.refs.swap(RUNS_REF, store.head(), base)
    done = ledger_merge.merge_history(store, a, "test")
    assert (done.kind, store.head()) == ("fast-forward", a)
    assert ledger_merge.merge_history(store, base, "test").kind == "up to date"
    done = ledger_merge.merge_history(store, b, "test")
    assert done.kind == "merged" and done.runs_merged == 2  # run 0 both sides, run 1 on b
    commit = store.objects.commit(store.head())
    assert commit.parents == [a, b]
    assert commit.message.decode().startswith("ledger merge of test: 2 runs merged")
    # the other order gives the same tree
    store.refs.swap(RUNS_REF, store.head(), b)
    ledger_merge.merge_history(store, a, "test")
    assert store.objects.commit(store.head()).tree == commit.tree
    assert store.objects.commit(store.head()).parents == [b, a]


def test_other_top_level_folders_merge_as_a_union_and_can_register(world) -> None:
    lg, _ids, base, _tmp = world
    from ledger.store import trees
    from ledger.store.objects import FILE_MODE, blob

    store = lg.store
    root = store.root(base)
    out: list = []
    blobs = {n: blob(n.encode()) for n in ("s1", "s2", "s3")}
    out += blobs.values()

    def with_index(names: list[str]) -> bytes:
        return trees.edit(store.objects, root,
                          {f"index/{n}.parquet": (FILE_MODE, blobs[n].id) for n in names}, out)

    a, b = with_index(["s1", "s2"]), with_index(["s2", "s3"])
    store.objects.add(out)
    merged = merge_roots(ctx := MergeContext(store.objects), a, b)
    store.objects.add(ctx.out)
    assert merged == merge_roots(MergeContext(store.objects), b, a)
    got = {p for p, _m, _s in store.objects.walk_files(merged) if p.startswith("index/")}
    assert got == {"index/s1.parquet", "index/s2.parquet", "index/s3.parquet"}

    seen = []

    def keep_left_names(ctx: MergeContext, x: bytes, y: bytes) -> bytes:
        seen.append((x, y))
        return ledger_merge.union_files(ctx, x, y)

    ledger_merge.register_folder_merge("index", keep_left_names)
    try:
        merge_roots(MergeContext(store.objects), a, b)
    finally:
        del ledger_merge._FOLDER_MERGES["index"]
    assert len(seen) == 1
