"""Environment settings, read when they are used (never cached at import): a notebook or a
service that changes `os.environ` while it runs gets the new value for the next run or call.

`GIT_DIR`, `GIT_WORK_TREE` and the rest of git's environment are read by `git_env()` in
ledger/store/git.py, also on every call.
"""

from __future__ import annotations

import os

from ledger.errors import InvalidInputError

RECORDED = ("GIT_DIR", "GIT_WORK_TREE", "LEDGER_REPO", "LEDGER_EXPERIMENT", "LEDGER_RUN_ID",
            "LEDGER_FLUSH_SECONDS", "LEDGER_MAX_ARTIFACT_BYTES")
DEFAULT_FLUSH_SECONDS = 5.0
DEFAULT_MAX_ARTIFACT_BYTES = 100 * 1024 * 1024


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"{name}={raw!r} is not a number; set it to one, or unset "
                                "it for the default") from None
    if value < 0 or value != value:
        raise InvalidInputError(f"{name}={raw!r} must be zero or more")
    return value


def flush_seconds() -> float:
    """How often a live run is committed (LEDGER_FLUSH_SECONDS; read as each run starts)."""
    return _number("LEDGER_FLUSH_SECONDS", DEFAULT_FLUSH_SECONDS)


def max_artifact_bytes() -> int:
    """The largest artifact file accepted (LEDGER_MAX_ARTIFACT_BYTES; read on each call)."""
    return int(_number("LEDGER_MAX_ARTIFACT_BYTES", DEFAULT_MAX_ARTIFACT_BYTES))


def recorded() -> dict[str, str]:
    """The settings a run records as they are when it starts (those that are set)."""
    return {name: os.environ[name] for name in RECORDED if os.environ.get(name)}
