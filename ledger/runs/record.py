"""The record of one run (run.json) and the rules that merge two versions of it.

One merge serves every writer: a journal replayed after a crash, a CLI call that adds to a run,
a periodic flush, and (later) two clones that diverged. The rules are deterministic and
order-independent, so merge(a, b) == merge(b, a) and merge(a, a) == a:

- identity (experiment, name, start time, user, source, environment) is set when the run is
  created; if two versions disagree the smaller one (by start time, then content) wins;
- params are immutable: the union of both sides (a clash keeps the smaller value);
- status: a terminal status beats RUNNING; between two terminal ones the later change wins;
- tags, the deleted flag and a rename (`rename_run`; the name given at creation stays identity
  until then) are last-writer-wins registers: each change carries a clock
  `[ms, counter]` that is always greater than every clock the writer had seen on that run, so a
  change made after reading a state sorts after it; equal clocks fall back to the value;
- inputs are a set; metric points (kept beside run.json as Parquet) are a set of
  (key, step, timestamp, value); the latest value of a metric is the point with the greatest
  (step, timestamp, value), as in MLflow.
"""

from __future__ import annotations

import json
import math
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import DamagedRunError, InvalidInputError

FORMAT = 1
Clock = tuple[int, int]
Point = tuple[str, int, int, float]  # key, step, timestamp_ms, value
_RANK = {"RUNNING": 0, "FINISHED": 1, "FAILED": 1, "KILLED": 1}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class RunRecord:
    id: str
    experiment: str = "default"
    name: str = ""
    status: str = "RUNNING"
    start_time: int = 0
    end_time: int | None = None
    user: str = ""
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    # derived from the metric files and the artifact tree, kept here so listing is cheap
    metrics: dict[str, float] = field(default_factory=dict)
    latest: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (step, timestamp)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    # last-writer-wins clocks: "status", "deleted", "name" (a rename), "tag:<key>" (a tag
    # clock without a value in `tags` is a deletion)
    clocks: dict[str, Clock] = field(default_factory=dict)

    # -- clocks -------------------------------------------------------------------------------
    def next_clock(self) -> Clock:
        """A clock greater than every clock on this run and not behind the wall clock."""
        top = max(self.clocks.values(), default=(0, 0))
        ms = now_ms()
        return (ms, 0) if ms > top[0] else (top[0], top[1] + 1)

    # -- mutations (validated by the caller) --------------------------------------------------
    def set_param(self, key: str, value: str) -> bool:
        """Add a param; the same value again is a no-op, another value is an error."""
        old = self.params.get(key)
        if old is None:
            self.params[key] = value
            return True
        if old != value:
            raise InvalidInputError(
                f"param {key!r} is already {old!r} in run {self.id}; params are immutable "
                f"(cannot change it to {value!r})"
            )
        return False

    def set_tag(self, key: str, value: str, clock: Clock | None = None) -> None:
        self.tags[key] = value
        self.clocks[f"tag:{key}"] = clock or self.next_clock()

    def delete_tag(self, key: str, clock: Clock | None = None) -> None:
        self.tags.pop(key, None)
        self.clocks[f"tag:{key}"] = clock or self.next_clock()

    def rename(self, name: str, clock: Clock | None = None) -> None:
        self.name = name
        self.clocks["name"] = clock or self.next_clock()

    def set_deleted(self, deleted: bool, clock: Clock | None = None) -> None:
        self.deleted = deleted
        self.clocks["deleted"] = clock or self.next_clock()

    def finish(self, status: str, end_time: int, clock: Clock | None = None) -> None:
        self.status = status
        self.end_time = end_time if status != "RUNNING" else None
        self.clocks["status"] = clock or self.next_clock()

    def add_input(self, entry: dict[str, Any]) -> None:
        if entry not in self.inputs:
            self.inputs.append(entry)
            self.inputs.sort(key=_input_key)

    def add_points(self, points: Iterable[Point]) -> None:
        """Fold new metric points into the latest values."""
        for key, step, ts, value in points:
            old = self.latest.get(key)
            if old is None or (step, ts, _vkey(value)) > (*old, _vkey(self.metrics[key])):
                self.latest[key] = (step, ts)
                self.metrics[key] = value

    def copy(self) -> RunRecord:
        """An independent copy, as `copy.deepcopy` makes it, at a fraction of its cost."""
        return RunRecord(
            id=self.id, experiment=self.experiment, name=self.name, status=self.status,
            start_time=self.start_time, end_time=self.end_time, user=self.user,
            params=dict(self.params), tags=dict(self.tags), source=_copied(self.source),
            environment=_copied(self.environment), inputs=_copied(self.inputs),
            deleted=self.deleted, metrics=dict(self.metrics), latest=dict(self.latest),
            artifacts=_copied(self.artifacts), clocks=dict(self.clocks))

    # -- serialisation ------------------------------------------------------------------------
    def to_json(self) -> bytes:
        """Canonical run.json: sorted keys, no NaN literals, one trailing newline."""
        text = json.dumps(self.to_doc(), sort_keys=True, indent=1, ensure_ascii=False,
                          allow_nan=False)
        return (text + "\n").encode()

    def to_doc(self) -> dict[str, Any]:
        """run.json as a document (sharing this record's values: encode it at once)."""
        return {
            **self.public(),
            "format": FORMAT,
            "environment": self.environment,
            "bookkeeping": {
                "latest": {k: list(v) for k, v in self.latest.items()},
                # a (0, 0) clock is the same as none: the lowest, inferred changes carry it
                "clocks": {k: list(v) for k, v in sorted(self.clocks.items()) if v != (0, 0)},
            },
        }

    @classmethod
    def from_json(cls, data: bytes) -> RunRecord:
        """Parse run.json; anything but a well-formed record raises DamagedRunError."""
        try:
            doc = json.loads(data)
        except ValueError as exc:  # also bytes that are not UTF-8
            raise DamagedRunError(f"run.json is not JSON ({exc})") from None
        return record_from_doc(doc)

    @classmethod
    def from_json_dict(cls, doc: dict[str, Any]) -> RunRecord:
        book = doc.get("bookkeeping", {})
        return cls(
            id=doc["id"],
            experiment=doc["experiment"],
            name=doc.get("name", ""),
            status=doc["status"],
            start_time=doc["start_time"],
            end_time=doc.get("end_time"),
            user=doc.get("user", ""),
            params=doc.get("params", {}),
            tags=doc.get("tags", {}),
            source=doc.get("source", {}),
            environment=doc.get("environment", {}),
            inputs=doc.get("inputs", []),
            deleted=doc.get("deleted", False),
            metrics={k: float_from_json(v) for k, v in doc.get("metrics", {}).items()},
            latest={k: (v[0], v[1]) for k, v in book.get("latest", {}).items()},
            artifacts=doc.get("artifacts", []),
            clocks={k: (v[0], v[1]) for k, v in book.get("clocks", {}).items()},
        )

    def public(self) -> dict[str, Any]:
        """The JSON shape of SPEC §3 (NaN and ±inf as strings)."""
        return {
            "id": self.id,
            "experiment": self.experiment,
            "name": self.name,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "user": self.user,
            "params": dict(self.params),
            "metrics": {k: float_to_json(v) for k, v in sorted(self.metrics.items())},
            "tags": dict(self.tags),
            "source": dict(self.source),
            "inputs": list(self.inputs),
            "artifacts": list(self.artifacts),
            "deleted": self.deleted,
        }


def _copied(value: Any) -> Any:
    """A copy of a JSON document (dicts, lists; everything else is immutable)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def merge(a: RunRecord, b: RunRecord) -> RunRecord:
    """The deterministic, commutative, idempotent merge of two versions of one run."""
    if a.id != b.id:
        raise ValueError("cannot merge two different runs")
    first, other = sorted((a, b), key=_identity_key)
    out = RunRecord(
        id=a.id,
        experiment=first.experiment,
        name=first.name,
        start_time=first.start_time,
        user=first.user,
        source=first.source,
        environment=first.environment,
    )
    out.params = dict(other.params)
    for key, value in first.params.items():
        old = out.params.get(key)
        out.params[key] = value if old is None else min(old, value)
    winner = max((a, b), key=_status_key)
    out.status, out.end_time = winner.status, winner.end_time
    if "status" in winner.clocks:
        out.clocks["status"] = winner.clocks["status"]
    tag_keys = {k for r in (a, b) for k in r.clocks if k.startswith("tag:")}
    tag_keys |= {f"tag:{k}" for r in (a, b) for k in r.tags}
    for ck in tag_keys:
        key = ck[4:]
        best = max((a, b), key=lambda r: _tag_key(r, key))
        if key in best.tags:
            out.tags[key] = best.tags[key]
        if ck in best.clocks:
            out.clocks[ck] = best.clocks[ck]
    # a rename is last-writer-wins; without one the name is identity (the first record's)
    nwin = max((a, b), key=lambda r: (r.clocks.get("name", (0, 0)), r.name))
    if nwin.clocks.get("name", (0, 0)) > (0, 0):
        out.name, out.clocks["name"] = nwin.name, nwin.clocks["name"]
    dwin = max((a, b), key=lambda r: (r.clocks.get("deleted", (0, 0)), r.deleted))
    out.deleted = dwin.deleted
    if "deleted" in dwin.clocks:
        out.clocks["deleted"] = dwin.clocks["deleted"]
    for entry in (*a.inputs, *b.inputs):
        out.add_input(entry)
    for r in (a, b):
        for mkey, mvalue in r.metrics.items():
            step, ts = r.latest.get(mkey, (0, 0))
            out.add_points([(mkey, step, ts, mvalue)])
    arts = {e["path"]: e for e in b.artifacts}
    for e in a.artifacts:
        other_e = arts.get(e["path"])
        arts[e["path"]] = e if other_e is None else max(e, other_e, key=_json_key)
    out.artifacts = [arts[p] for p in sorted(arts)]
    return out


def _identity_key(r: RunRecord) -> tuple[Any, ...]:
    missing = not r.experiment and not r.start_time  # a partial record (attach before create)
    return (missing, r.start_time, r.experiment, r.name, r.user, _json_key(r.source),
            _json_key(r.environment))


def _status_key(r: RunRecord) -> tuple[Any, ...]:
    return (_RANK.get(r.status, 0), r.clocks.get("status", (0, 0)), r.status, r.end_time or 0)


def _tag_key(r: RunRecord, key: str) -> tuple[Any, ...]:
    present = key in r.tags
    return (r.clocks.get(f"tag:{key}", (0, 0)), present, r.tags.get(key, ""))


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _input_key(entry: dict[str, Any]) -> tuple[str, str]:
    return (str(entry.get("path", "")), str(entry.get("digest", "")))


def record_from_doc(doc: Any) -> RunRecord:
    """A record from its JSON document, checking the types every reader relies on (the full
    schema is checked where documents come from elsewhere: `ledger pull`). A document that
    does not fit raises DamagedRunError naming the run, never a KeyError deep in a reader."""
    rid = doc.get("id") if isinstance(doc, dict) else None
    shown = rid if isinstance(rid, str) and len(rid) <= 64 else "?"
    try:
        _check_doc(doc)
        return RunRecord.from_json_dict(doc)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise DamagedRunError(
            f"the record of run {shown} is damaged or not in the expected format "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None


def _check_doc(doc: Any) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(what)

    need(isinstance(doc, dict), "not an object")
    need(isinstance(doc.get("id"), str) and len(doc["id"]) == 32, "bad id")
    for key in ("experiment", "status"):
        need(isinstance(doc.get(key), str), f"bad {key}")
    need(doc["status"] in _RANK, "bad status")
    for key in ("name", "user"):
        need(isinstance(doc.get(key, ""), str), f"bad {key}")
    need(_is_int(doc.get("start_time")), "bad start_time")
    need(doc.get("end_time") is None or _is_int(doc["end_time"]), "bad end_time")
    need(isinstance(doc.get("deleted", False), bool), "bad deleted")
    for key in ("params", "tags"):
        found = doc.get(key, {})
        need(isinstance(found, dict) and all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in found.items()), f"bad {key}")
    for key in ("source", "environment", "bookkeeping"):
        need(isinstance(doc.get(key, {}), dict), f"bad {key}")
    metrics = doc.get("metrics", {})
    need(isinstance(metrics, dict) and all(
        isinstance(k, str) and (_is_number(v) or v in ("NaN", "Infinity", "-Infinity"))
        for k, v in metrics.items()), "bad metrics")
    for key in ("inputs", "artifacts"):
        need(isinstance(doc.get(key, []), list)
             and all(isinstance(e, dict) for e in doc.get(key, [])), f"bad {key}")
    need(all(isinstance(a.get("path"), str) and _is_int(a.get("size"))
             for a in doc.get("artifacts", [])), "bad artifacts")
    book = doc.get("bookkeeping", {})
    for key in ("latest", "clocks"):
        pairs = book.get(key, {})
        need(isinstance(pairs, dict) and all(
            isinstance(k, str) and isinstance(v, list) and len(v) == 2
            and _is_int(v[0]) and _is_int(v[1]) for k, v in pairs.items()), f"bad {key}")


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


# -- metric points --------------------------------------------------------------------------


def _vkey(value: float) -> tuple[int, float]:
    return (1, 0.0) if value != value else (0, value)


def point_key(p: Point) -> tuple[Any, ...]:
    """Canonical order of points: key, step, timestamp, value (NaN last), then exact bits."""
    return (p[0], p[1], p[2], _vkey(p[3]), struct.pack("<d", p[3]))


def canonical_points(points: Iterable[Point]) -> list[Point]:
    """The set of points (deduplicated bit-exactly) in canonical order."""
    seen: dict[tuple[Any, ...], Point] = {}
    for p in points:
        seen.setdefault(point_key(p), p)
    return [seen[k] for k in sorted(seen)]


def float_to_json(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def float_from_json(value: float | str) -> float:
    if isinstance(value, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value]
    return float(value)
