"""The merge of two versions of a run is commutative, idempotent and associative (P3)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.runs.record import RunRecord, canonical_points, merge

RID = "0193ab00000070008000000000000001"
keys = st.sampled_from(["a", "b", "c"])
clocks = st.tuples(st.integers(0, 5), st.integers(0, 3))


@st.composite
def records(draw) -> RunRecord:
    r = RunRecord(id=RID, experiment=draw(st.sampled_from(["e", "f"])), name="n",
                  start_time=draw(st.integers(1, 3)), user="u")
    for key in draw(st.lists(keys, max_size=3)):
        r.params[key] = draw(st.sampled_from(["1", "2"]))
    for key in draw(st.lists(keys, max_size=3)):
        if draw(st.booleans()):
            r.set_tag(key, draw(st.sampled_from(["x", "y"])), draw(clocks))
        else:
            r.delete_tag(key, draw(clocks))
    if draw(st.booleans()):
        r.rename(draw(st.sampled_from(["m", "z"])), draw(clocks))
    if draw(st.booleans()):
        r.set_deleted(draw(st.booleans()), draw(clocks))
    if draw(st.booleans()):
        r.finish(draw(st.sampled_from(["FINISHED", "FAILED", "KILLED"])), draw(st.integers(5, 9)),
                 draw(clocks))
    r.add_points([(k, draw(st.integers(0, 3)), draw(st.integers(0, 3)),
                   draw(st.sampled_from([0.5, 1.0, math.nan, -math.inf])))
                  for k in draw(st.lists(keys, max_size=3))])
    return r


def same(a: RunRecord, b: RunRecord) -> bool:
    return a.to_json() == b.to_json()


@settings(max_examples=300, deadline=None)
@given(records(), records(), records())
def test_merge_laws(a: RunRecord, b: RunRecord, c: RunRecord) -> None:
    assert same(merge(a, b), merge(b, a))
    assert same(merge(a, a), a) or same(merge(a, a), merge(merge(a, a), a))
    assert same(merge(merge(a, b), c), merge(a, merge(b, c)))


def test_terminal_status_beats_running_and_later_tag_wins() -> None:
    a = RunRecord(id=RID, experiment="e", start_time=1)
    b = RunRecord(id=RID, experiment="e", start_time=1)
    b.finish("FINISHED", 10, (5, 0))
    a.set_tag("k", "old", (1, 0))
    b.set_tag("k", "new", (2, 0))
    a.delete_tag("gone", (3, 0))
    b.set_tag("gone", "here", (2, 0))
    m = merge(a, b)
    assert m.status == "FINISHED" and m.end_time == 10
    assert m.tags == {"k": "new"}


def test_a_rename_is_last_writer_wins() -> None:
    live = RunRecord(id=RID, experiment="e", name="r1", start_time=1)  # what a journal holds
    committed = RunRecord(id=RID, experiment="e", name="r1", start_time=1)
    committed.rename("renamed", (2, 0))  # sorts after "r1": identity alone would drop it
    assert merge(live, committed).name == merge(committed, live).name == "renamed"
    live.rename("again", (3, 0))
    assert merge(live, committed).name == "again"


def test_points_are_a_set_in_canonical_order() -> None:
    pts = [("a", 2, 5, 1.0), ("a", 1, 9, 2.0), ("a", 2, 5, 1.0), ("b", 0, 0, math.nan),
           ("b", 0, 0, math.nan)]
    assert canonical_points(pts)[:2] == [("a", 1, 9, 2.0), ("a", 2, 5, 1.0)]
    assert len(canonical_points(pts)) == 3
