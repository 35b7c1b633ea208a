"""One grammar per name: keys, run ids, experiment names, statuses, artifact paths, and the
ledger's ref names.

Every user-supplied name passes through here before anything is written (P6, P8).
"""

from __future__ import annotations

import math
import operator
import os
import re
import time

from ledger.errors import InvalidInputError, InvalidRunIdError

KEY_RE = re.compile(r"^[A-Za-z0-9_\-. /:]+$")
RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
RUN_PREFIX_RE = re.compile(r"^[0-9a-f]{4,32}$")
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_EXPERIMENT = 500
MAX_RUN_NAME = 250
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
TERMINAL = ("FINISHED", "FAILED", "KILLED")
DEFAULT_EXPERIMENT = "default"

# The ledger's refs (one place; the model registry's tag grammar is ledger/registry/tags.py)
LEDGER_REFS = "refs/ledger/"  # everything the ledger shares
RUNS_REF = "refs/ledger/runs"  # the runs: one append-only history, the audit log
REMOTES_REFS = "refs/ledger/remotes/"  # what was last fetched from each remote
TAGS_PREFIX = "refs/tags/"  # model versions and stage assignments
NOTES_REF = "refs/notes/ledger"  # which runs came from each source commit
RUN_FILE = "run.json"  # a run's record, in its folder (run_dir)

_valid_keys: set[str] = set()


def check_key(key: object, kind: str = "key") -> str:
    """Validate a param, metric or tag key as MLflow does, plus path normalisation."""
    if type(key) is str and key in _valid_keys:  # hot path inside training loops
        return key
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"invalid {kind} {key!r}: must be a non-empty string")
    if len(key) > MAX_KEY:
        raise InvalidInputError(f"invalid {kind} {key[:40]!r}…: longer than {MAX_KEY} characters")
    if not KEY_RE.match(key):
        raise InvalidInputError(
            f"invalid {kind} {key!r}: only letters, digits, '_', '-', '.', ' ', '/' and ':' allowed"
        )
    if key.startswith("/") or key.endswith("/") or "//" in key or _has_dotdot(key):
        raise InvalidInputError(
            f"invalid {kind} {key!r}: must be a normalized relative path "
            "(no leading or trailing '/', no '//', no '..')"
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def _has_dotdot(path: str) -> bool:
    return any(part in (".", "..") for part in path.split("/"))


def check_text(text: str, what: str) -> str:
    """Refuse text that cannot be stored as UTF-8 (lone surrogates: undecodable bytes from the
    command line or a file name), before anything is written."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "backslashreplace").decode("ascii", "replace")
        raise InvalidInputError(
            f"{what} {shown[:60]!r} is not valid UTF-8 (undecodable bytes); "
            "give it as UTF-8 text") from None
    return text


def _bounded(value: object, limit: int, what: str) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidInputError(f"{what} too long: {len(text)} characters (at most {limit})")
    return check_text(text, what)


def param_value(value: object) -> str:
    return _bounded(value, MAX_PARAM_VALUE, "param value")


def tag_value(value: object) -> str:
    return _bounded(value, MAX_TAG_VALUE, "tag value")


def metric_value(key: str, value: object) -> float:
    """A metric value is a float; NaN and ±inf are kept, anything else is an error."""
    if type(value) is float:
        return value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return parse_float(value, f"metric {key!r}")
    if hasattr(value, "__float__"):  # numpy scalars and the like, without importing numpy
        try:
            result = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if type(result) is float:
                return result
    raise InvalidInputError(f"metric {key!r}: value {value!r} is not a number")


_FLOAT_WORDS = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
                "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf}


def parse_float(text: str, what: str) -> float:
    word = text.strip().lower()
    if word in _FLOAT_WORDS:
        return _FLOAT_WORDS[word]
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"{what}: value {text!r} is not a number") from None


def parse_int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"{what}: {text!r} is not an integer") from None


def check_step(step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        else:  # numpy integers and the like, without importing numpy
            try:
                step = operator.index(step)  # type: ignore[arg-type]
            except TypeError:
                raise InvalidInputError(f"invalid step {step!r}: must be an integer") from None
            if isinstance(step, bool):
                raise InvalidInputError(f"invalid step {step!r}: must be an integer")
    if not -(2**63) <= step < 2**63:
        raise InvalidInputError(f"invalid step {step}: out of the 64-bit range")
    return step


def check_timestamp(ts: object) -> int:
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < 2**63:
        raise InvalidInputError(f"invalid timestamp {ts!r}: must be milliseconds since the epoch")
    return ts


def check_status(status: str) -> str:
    upper = status.upper() if isinstance(status, str) else status
    if upper not in STATUSES:
        raise InvalidInputError(f"invalid status {status!r}: one of {', '.join(STATUSES)}")
    return upper


def check_experiment(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_EXPERIMENT:
        raise InvalidInputError(
            f"invalid experiment name {name!r}: 1 to {MAX_EXPERIMENT} characters")
    if any(ord(c) < 32 for c in name):
        raise InvalidInputError(f"invalid experiment name {name!r}: control characters")
    return check_text(name, "experiment name")


def check_run_name(name: object) -> str:
    if not isinstance(name, str) or len(name) > MAX_RUN_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInputError(
            f"invalid run name {name!r}: at most {MAX_RUN_NAME} printable characters"
        )
    return check_text(name, "run name")


def check_artifact_path(path: object) -> str:
    """A relative POSIX path with no '..', normalised; anything else is an error (P8)."""
    if not isinstance(path, str) or not path:
        raise InvalidInputError(f"invalid artifact path {path!r}: must be a non-empty string")
    check_text(path, "artifact path")
    if path.startswith("/") or "\\" in path or "\0" in path or re.match(r"^[A-Za-z]:", path):
        raise InvalidInputError(f"invalid artifact path {path!r}: must be a relative POSIX path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise InvalidInputError(f"invalid artifact path {path!r}: must not contain '..'")
    if parts[0] == ".git" or any(p == ".git" for p in parts):
        raise InvalidInputError(f"invalid artifact path {path!r}: '.git' is reserved")
    return "/".join(parts)


def new_run_id(now_ms: int | None = None) -> str:
    """A UUIDv7-layout id: 48 bits of milliseconds, then random bits; 32 lowercase hex."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68 & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return f"{value:032x}"


def check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise InvalidRunIdError(f"invalid run id {run_id!r}: 32 lowercase hex characters")
    return run_id


def is_commit(text: str) -> bool:
    """A full git object id (sha1 or sha256), as a run's source commit is recorded."""
    return re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", text) is not None


def check_run_prefix(prefix: object) -> str:
    if isinstance(prefix, str):
        prefix = prefix.strip().lower()
    if not isinstance(prefix, str) or not RUN_PREFIX_RE.match(prefix):
        raise InvalidRunIdError(
            f"invalid run id {prefix!r}: give the id or a unique prefix of at least "
            "4 hex characters"
        )
    return prefix


def fanout(run_id: str) -> str:
    """The fan-out folder of a run: its last two hex digits, which are random (not clock)."""
    return run_id[-2:]


def run_dir(run_id: str) -> str:
    return f"runs/{fanout(run_id)}/{run_id}"


def split_assignment(text: str, what: str) -> tuple[str, str]:
    """Split a CLI `KEY=VALUE` argument."""
    key, sep, value = text.partition("=")
    if not sep:
        raise InvalidInputError(f"invalid {what} {text!r}: expected KEY=VALUE")
    return key, value


def host_name() -> str:
    """This machine's name (socket.gethostname() without importing socket)."""
    return os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")


def user_name() -> str:
    for var in ("LEDGER_USER", "USER", "LOGNAME", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:  # what getpass.getuser() reads after the variables (getpass imports termios)
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except Exception:  # no passwd entry in some containers; no pwd module on Windows
        return "unknown"
