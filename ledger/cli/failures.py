"""Every outcome of a command as SPEC §3's exit codes, without click (`ledger log` runs
without it): 1 a user error (one line `error: …`), 3 an unexpected failure (`--traceback`
shows it), 130 Ctrl-C. Usage errors (2) are click's, in app.py."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable

from ledger.errors import LedgerError

# the machine, not the ledger: a full disk, a read-only file system, permissions
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                      errno.EFBIG}


def guarded(call: Callable[[], None], show_tb: bool) -> None:
    """Run a command; map what it raises to a message and an exit code."""
    try:
        call()
    except LedgerError as exc:
        say(f"error: {one_line(exc)}")
        sys.exit(1)
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            if show_tb:
                raise
            unexpected(exc)
        where = f": {exc.filename}" if exc.filename else ""
        say(f"error: {exc.strerror}{where} (free some space or fix the permissions, "
            "then try again)")
        sys.exit(1)
    except Exception as exc:
        if show_tb:
            raise
        unexpected(exc)


def say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def unexpected(exc: BaseException) -> None:
    say(f"error: unexpected {type(exc).__name__}: {one_line(exc)} "
        "(run again with --traceback to see where)")
    sys.exit(3)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
