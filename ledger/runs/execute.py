"""`ledger exec`: run a command as a run; its exit code decides the status."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ledger.runs import journal

if TYPE_CHECKING:
    from ledger.api import Ledger


def run_command(lg: Ledger, argv: Sequence[str], experiment: str | None = None,
                name: str | None = None, tags: dict[str, Any] | None = None, *,
                params: dict[str, Any] | None = None, cwd: str | os.PathLike[str] | None = None,
                env: dict[str, str] | None = None, record_argv: Sequence[str] | None = None,
                stdout: int | None = None) -> tuple[str, int]:
    """Run `argv` with LEDGER_RUN_ID set; returns (run id, exit code to pass on).

    Exit 0 is FINISHED, another code FAILED, death by a signal KILLED (exit 128 + signal).
    If this process itself is killed, its journal marks the run for recovery as KILLED.
    `env` adds to the environment; `record_argv` is the argv to record, if not `argv`;
    `stdout` a file descriptor for the child's output.
    """
    rid = lg.create_run(experiment, name, tags, params,
                        argv=list(argv if record_argv is None else record_argv))
    marker = journal.Journal.create(lg.journal_dir, rid, journal.OWNER)
    env = {**os.environ, **(env or {}), "LEDGER_RUN_ID": rid, "LEDGER_REPO": str(lg.path)}
    try:
        proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=stdout)
    except OSError as exc:
        lg.set_terminated(rid, "FAILED")
        marker.discard()
        from ledger.errors import InvalidInputError

        raise InvalidInputError(f"cannot run {argv[0]!r}: {exc.strerror}") from None

    def forward(signum: int, _frame: Any) -> None:
        proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    status = "FINISHED" if code == 0 else "KILLED" if code < 0 else "FAILED"
    lg.set_terminated(rid, status)
    marker.discard()
    return rid, 128 - code if code < 0 else code
