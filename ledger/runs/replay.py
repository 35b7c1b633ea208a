"""Turn journal records back into run changes: for flushing, for showing live runs, and for
recovering the runs of processes that died (P1)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError
from ledger.runs import journal
from ledger.runs.record import Point, RunRecord, merge
from ledger.runs.store import RunStore, Update


@dataclass
class Replayed:
    """What one journal holds."""

    path: Path
    header: dict[str, Any]
    record: RunRecord
    points: list[Point] = field(default_factory=list)
    artifacts: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    ended: bool = False
    last_write_ms: int = 0

    @property
    def run_id(self) -> str:
        return self.record.id

    @property
    def is_owner(self) -> bool:
        return self.header.get("role") == journal.OWNER


QUARANTINE = "quarantine"


def replay(contents: journal.Contents) -> Replayed:
    run_id = contents.header["run"]
    record = RunRecord(id=run_id, experiment="", start_time=0, status="RUNNING")
    out = Replayed(contents.path, contents.header, record)
    for rec in contents.records:
        op = rec[1]
        if op == journal.METRIC:
            out.points.append((rec[2], rec[4], rec[5], rec[3]))
        elif op == journal.CREATE:
            created = RunRecord.from_json_dict(rec[2])
            out.record = record = merge(record, created)
            out.files.update({k: v.encode() for k, v in rec[3].items()})
        elif op == journal.PARAM:
            record.params.setdefault(rec[2], rec[3])
        elif op == journal.TAG:
            record.set_tag(rec[2], rec[3], (rec[4], rec[5]))
        elif op == journal.UNTAG:
            record.delete_tag(rec[2], (rec[3], rec[4]))
        elif op == journal.ARTIFACT:
            out.artifacts[rec[2]] = (rec[3].encode(), rec[4])
        elif op == journal.INPUT:
            record.add_input(rec[2])
        elif op == journal.END:
            record.finish(rec[2], rec[3], (rec[4], rec[5]))
            out.ended = True
    try:
        out.last_write_ms = os.stat(contents.path).st_mtime_ns // 1_000_000
    except OSError:
        pass
    return out


def as_update(rep: Replayed, killed: bool = False) -> Update:
    """The change that commits everything a journal holds (KILLED if its owner died)."""
    record = rep.record
    if killed and rep.is_owner and not rep.ended:
        # an inferred end: the lowest possible clock, so any explicit end beats it
        record.finish("KILLED", rep.last_write_ms or record.start_time, (0, 0))

    def change(current: RunRecord | None) -> RunRecord:
        return record if current is None else merge(current, record)

    event = record.status.lower() if record.status != "RUNNING" else "updated"
    if killed and rep.is_owner and not rep.ended:
        event = "killed"
    return Update(rep.run_id, change, points=rep.points, compact=record.status != "RUNNING",
                  artifacts=rep.artifacts, files=rep.files, event=event, strict=False)


def orphans(store: RunStore, folder: Path) -> list[Replayed]:
    """Journals on this machine whose writer is gone."""
    found = []
    for path in journal.scan(folder):
        header = journal.read_header(path)  # a live run's records are not read at all
        if header is not None and journal.owner_alive(header):
            continue
        contents = journal.read(path)
        if contents is None:
            journal.remove(path)  # not even a header: nothing was logged into it
            continue
        found.append(replay(contents))
    return found


def recover(store: RunStore, folder: Path) -> list[str]:
    """Commit the runs of dead writers (KILLED where the owner died), then drop their journals.

    Safe to run in several processes at once: the merge is idempotent, so a journal committed
    twice changes nothing the second time.
    """
    found = orphans(store, folder)
    if not found:
        return []
    try:
        store.commit([as_update(rep, killed=True) for rep in found])
        done = found
    except LedgerError:
        done = _one_by_one(store, folder, found)
    for rep in done:
        journal.remove(rep.path)
    return sorted({rep.run_id for rep in done})


def _one_by_one(store: RunStore, folder: Path, found: list[Replayed]) -> list[Replayed]:
    """Commit each dead run on its own; a journal that still cannot be committed is moved to
    `quarantine/` (kept for a human, out of the way of every later command)."""
    done = []
    by_run: dict[str, list[Replayed]] = {}
    for rep in found:
        by_run.setdefault(rep.run_id, []).append(rep)
    for reps in by_run.values():
        try:
            store.commit([as_update(rep, killed=True) for rep in reps])
            done.extend(reps)
        except LedgerError:
            jail = folder / QUARANTINE
            jail.mkdir(exist_ok=True)
            for rep in reps:
                os.replace(rep.path, jail / rep.path.name)
    return done


def live(folder: Path, run_id: str) -> list[Replayed]:
    """The journals of a run on this machine, alive or not, for showing what is not committed."""
    out = []
    for path in journal.for_run(folder, run_id):
        contents = journal.read(path)
        if contents is not None:
            out.append(replay(contents))
    return out
