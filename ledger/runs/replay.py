"""Turn journal records back into run changes: for flushing, for showing live runs, and for
recovering the runs of processes that died (P1).

A journal is input like any other: a record that does not decode or does not validate is
skipped and reported, never raised, so one damaged journal cannot stop any command. When
recovery finds damage, it commits what is valid and then sets the journal aside in
`journal/quarantine/` with a note of what was wrong (`ledger recover` lists them); it never
sets a journal aside because committing failed for a passing reason (a busy ref, a full
disk): that journal stays where it is and the next command tries again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import names
from ledger.errors import ConcurrencyError, DamagedRunError, LedgerError, StorageError
from ledger.runs import journal
from ledger.runs.record import Point, RunRecord, merge, record_from_doc
from ledger.runs.store import RunStore, Update

QUARANTINE = "quarantine"
NOTE = ".why"  # beside a journal set aside: what was wrong with it
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


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
    created: bool = False  # holds the run's creation record
    records: int = 0  # how many records it holds
    last_write_ms: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.record.id

    @property
    def is_owner(self) -> bool:
        return self.header.get("role") == journal.OWNER


@dataclass
class SetAside:
    """A journal moved out of the way because it is damaged or cannot be committed."""

    path: Path
    run_id: str
    reason: str


def replay(contents: journal.Contents) -> Replayed:
    """Every valid record of a journal, applied in order; invalid ones are reported."""
    run_id = contents.header["run"]
    record = RunRecord(id=run_id, experiment="", start_time=0, status="RUNNING")
    out = Replayed(contents.path, contents.header, record, problems=list(contents.problems),
                   records=len(contents.records))
    for rec in contents.records:
        try:
            _apply(out, rec)
        except (LedgerError, LookupError, TypeError, ValueError, AttributeError,
                OverflowError) as exc:
            out.problems.append(f"record {rec[0]}: {type(exc).__name__}: {exc}"[:300])
    if contents.mtime is not None:
        out.last_write_ms = int(contents.mtime * 1000)
    return out


def _apply(out: Replayed, rec: list[Any]) -> None:
    """Apply one record; validate everything before changing anything."""
    op, args = rec[1], rec[2:]
    record = out.record
    if op == journal.METRIC:
        key, value, step, ts = args[:4]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"metric value {value!r} is not a number")
        out.points.append((names.check_key(key), names.check_step(step),
                           names.check_timestamp(ts), float(value)))
    elif op == journal.CREATE:
        created = record_from_doc(args[0])
        files = {_name(k): _sha(v) for k, v in dict(args[1]).items()}
        if created.id != out.run_id:
            raise ValueError(f"creates run {created.id}, not {out.run_id}")
        out.record = merge(record, created)
        out.files.update(files)
        out.created = True
    elif op == journal.PARAM:
        key, value = names.check_key(args[0]), _text(args[1], names.MAX_PARAM_VALUE)
        record.params.setdefault(key, value)
    elif op == journal.TAG:
        key, value = names.check_key(args[0]), _text(args[1], names.MAX_TAG_VALUE)
        record.set_tag(key, value, _clock(args[2:4]))
    elif op == journal.UNTAG:
        record.delete_tag(names.check_key(args[0]), _clock(args[1:3]))
    elif op == journal.ARTIFACT:
        path, sha, size = names.check_artifact_path(args[0]), _sha(args[1]), _count(args[2])
        out.artifacts[path] = (sha, size)
    elif op == journal.INPUT:
        record.add_input(_input(args[0]))
    elif op == journal.END:
        status, end_time = names.check_status(args[0]), names.check_timestamp(args[1])
        record.finish(status, end_time, _clock(args[2:4]))
        out.ended = True
    else:
        raise ValueError(f"unknown record kind {op!r}")


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise TypeError(f"{value!r:.40} is not a string of at most {limit} characters")
    return value


def _sha(value: Any) -> bytes:
    if not isinstance(value, str) or not _SHA_RE.match(value):
        raise ValueError(f"{value!r:.50} is not an object id")
    return value.encode()


_RESERVED = {"run.json", "metrics.parquet", "metrics", "artifacts"}
_FILE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _name(value: Any) -> str:
    """A file of the run folder besides its record (environment.json, source.patch, ...)."""
    if not isinstance(value, str) or not _FILE_RE.match(value) or value in _RESERVED:
        raise ValueError(f"unexpected run file {value!r:.50}")
    return value


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{value!r:.30} is not a size")
    return value


def _clock(value: Any) -> tuple[int, int]:
    ms, n = value
    if type(ms) is not int or type(n) is not int or not (0 <= ms < 2**63 and 0 <= n < 2**63):
        raise ValueError(f"{value!r:.40} is not a clock")
    return (ms, n)


def _input(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) \
            or not isinstance(entry.get("digest"), str) or type(entry.get("size")) is not int:
        raise ValueError(f"{entry!r:.60} is not an input fingerprint")
    return dict(entry)


def as_update(rep: Replayed, killed: bool = False) -> Update:
    """The change that commits everything a journal holds (KILLED if its owner died)."""
    record = rep.record
    if killed and rep.is_owner and not rep.ended:
        # an inferred end: the lowest possible clock, so any explicit end beats it
        record.finish("KILLED", rep.last_write_ms or record.start_time, (0, 0))

    def change(current: RunRecord | None) -> RunRecord:
        if current is None and not rep.created:
            # a journal never creates a run without its creation record (no ghost runs)
            raise DamagedRunError(f"run {rep.run_id} is not in the ledger and the journal "
                                  "does not create it")
        return record if current is None else merge(current, record)

    event = record.status.lower() if record.status != "RUNNING" else "updated"
    if killed and rep.is_owner and not rep.ended:
        event = "killed"
    return Update(rep.run_id, change, points=rep.points, compact=record.status != "RUNNING",
                  artifacts=rep.artifacts, files=rep.files, event=event, strict=False)


def read_valid(path: Path) -> tuple[journal.Contents | None, Replayed | None]:
    """A journal's contents and, if its header can be trusted, its replay."""
    contents = journal.read(path)
    if contents is None or journal.header_problem(contents.header, path):
        return contents, None
    return contents, replay(contents)


def recover(store: RunStore, folder: Path) -> list[str]:
    """Commit the runs of dead writers (KILLED where the owner died), then drop their journals.

    Safe to run in several processes at once: the merge is idempotent, so a journal committed
    twice changes nothing the second time. Damaged journals are committed as far as they are
    valid, then set aside (see the module's doc).
    """
    found: list[Replayed] = []
    for path in journal.scan(folder):
        try:
            header = journal.read_header(path)  # a live run's records are not read at all
            if (header is not None and not journal.header_problem(header, path)
                    and journal.owner_alive(header, path.stat().st_mtime)):
                continue
            contents, rep = read_valid(path)
        except OSError:
            continue  # unreadable here (permissions), or gone: it is left alone
        if contents is None:
            journal.remove(path)  # empty: nothing was logged into it
        elif rep is None:  # a live writer always writes a valid header: this is damage
            _set_aside(folder, path, "; ".join(contents.problems) or "no valid header")
        elif not journal.owner_alive(contents.header, contents.mtime):
            found.append(rep)
    if not found:
        return []
    waiting = _waiting_for_creation(store, folder, found)
    found = [rep for rep in found if rep not in waiting]
    done: list[Replayed] = []
    by_run: dict[str, list[Replayed]] = {}
    root = store.root(store.head())
    for rep in found:
        if not rep.records and not rep.problems and not (
                rep.is_owner and store.folder_tree(root, rep.run_id) is not None):
            # a header alone: nothing was logged into it (an owner's header alone still
            # says its committed run was killed, as `ledger exec` leaves it)
            journal.remove(rep.path)
        else:
            by_run.setdefault(rep.run_id, []).append(rep)
    try:
        store.commit([as_update(rep, killed=True) for reps in by_run.values() for rep in reps])
        done = [rep for reps in by_run.values() for rep in reps]
    except (ConcurrencyError, StorageError, OSError):
        return []  # passing: the journals stay, the next command tries again
    except Exception:  # one bad run must not hold back the others: commit them one by one
        done = _one_by_one(store, folder, by_run)
    for rep in done:
        if rep.problems:
            _set_aside(folder, rep.path, "; ".join(rep.problems[:5]), committed=True)
        else:
            journal.remove(rep.path)
    return sorted({rep.run_id for rep in done})


def _waiting_for_creation(store: RunStore, folder: Path, found: list[Replayed]
                          ) -> list[Replayed]:
    """Journals of dead attached writers whose run is created by a journal still open (its
    owner has not flushed yet): they wait for it."""
    dead = {rep.path for rep in found}
    creating = {rep.run_id for rep in found if rep.created}
    root = store.root(store.head())
    waiting = []
    for rep in found:
        if rep.created or rep.run_id in creating:
            continue
        others = [p for p in journal.for_run(folder, rep.run_id) if p not in dead]
        if others and store.folder_tree(root, rep.run_id) is None:
            waiting.append(rep)
    return waiting


def _one_by_one(store: RunStore, folder: Path, by_run: dict[str, list[Replayed]]
                ) -> list[Replayed]:
    """Commit each dead run on its own; a run that still cannot be committed for a lasting
    reason has its journals set aside (kept for a human, listed by `ledger recover`)."""
    done = []
    for reps in by_run.values():
        try:
            store.commit([as_update(rep, killed=True) for rep in reps])
            done.extend(reps)
        except (ConcurrencyError, StorageError, OSError):
            continue  # passing: try again later
        except Exception as exc:  # damage of any kind is set aside, not raised
            for rep in reps:
                _set_aside(folder, rep.path, f"cannot be committed: {type(exc).__name__}: "
                           f"{' '.join(str(exc).split())}"[:300])
    return done


def _set_aside(folder: Path, path: Path, reason: str, committed: bool = False) -> None:
    jail = folder / QUARANTINE
    try:
        jail.mkdir(exist_ok=True)
        note = reason + ("; what was valid in it is committed" if committed else "") + "\n"
        (jail / (path.name + NOTE)).write_text(note, encoding="utf-8")
        os.replace(path, jail / path.name)
    except FileNotFoundError:
        pass  # another process set it aside first
    except OSError:
        pass  # cannot move it (read-only): it stays, and is tried again next time


def set_aside(folder: Path) -> list[SetAside]:
    """The journals in quarantine, with what was wrong with each."""
    jail = folder / QUARANTINE
    out = []
    for path in journal.scan(jail):
        try:
            reason = (jail / (path.name + NOTE)).read_text(encoding="utf-8").strip()
        except OSError:
            reason = "damaged"
        out.append(SetAside(path, path.name.split(".", 1)[0], " ".join(reason.split())))
    return out


def live(folder: Path, run_id: str) -> list[Replayed]:
    """The journals of a run on this machine, alive or not, for showing what is not committed."""
    out = []
    for path in journal.for_run(folder, run_id):
        _contents, rep = read_valid(path)
        if rep is not None:
            out.append(rep)
    return out
