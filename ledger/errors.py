"""The one error hierarchy of the ledger.

Every error a user can cause subclasses :class:`LedgerError`; its message says what was wrong
and, where it helps, what to do. The CLI prints it as one line and exits 1.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""


class NotARepositoryError(LedgerError):
    """The path is not inside a git repository."""


class InvalidInputError(LedgerError, ValueError):
    """A key, value, id, path or option is malformed."""


class InvalidRunIdError(InvalidInputError):
    """A run id, or an id prefix, is malformed (so no run can have it)."""


class RunNotFoundError(LedgerError, KeyError):
    """No run matches the id or prefix."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "run not found"


class AmbiguousRunIdError(LedgerError):
    """A run id prefix matches more than one run."""


class RunStateError(LedgerError):
    """The operation does not fit the run's state (e.g. logging into a finished run)."""


class ConcurrencyError(LedgerError):
    """A ref could not be updated after the bounded number of compare-and-swap retries."""


class UnsupportedRepositoryError(LedgerError):
    """The repository keeps its refs in a format the ledger cannot move safely (reftable)."""


class FilterSyntaxError(InvalidInputError):
    """A search filter is malformed; the message points at the offending position.

    ``text`` is the filter (or sort key) that failed and ``position`` the 1-based character
    position of the problem in it, when known; :attr:`caret` shows both as two lines.
    """

    def __init__(self, message: str, *, text: str | None = None, position: int | None = None):
        super().__init__(message)
        self.text = text
        self.position = position

    @property
    def caret(self) -> str | None:
        """The offending line of ``text`` and, under it, a ``^`` at ``position``."""
        if self.text is None or self.position is None:
            return None
        offset = min(max(self.position - 1, 0), len(self.text))
        start = self.text.rfind("\n", 0, offset) + 1
        end = self.text.find("\n", offset)
        line = self.text[start : len(self.text) if end < 0 else end]
        pad = "".join("\t" if ch == "\t" else " " for ch in self.text[start:offset])
        return f"{line}\n{pad}^"


class RegistryError(LedgerError):
    """A model registry operation is invalid (missing version, policy violation, ...)."""


class SignatureError(RegistryError):
    """A tag signature is missing, untrusted, revoked or does not match its name."""


class SyncError(LedgerError):
    """Sharing with a remote failed (unreachable, rejected after retries, ...)."""


class RegistryNameError(RegistryError, InvalidInputError):
    """A model name, stage name, version or registry reference is malformed."""


class RegistryLookupError(RegistryError, LookupError):
    """A model, version or stage that was asked for is not in the registry."""


class TagExistsError(RegistryError):
    """A tag with that name exists already; registry tags are never overwritten."""


class DesiredStateError(RegistryError):
    """`ledger.toml` is unreadable or does not match its schema (see ``problems``)."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class StorageError(LedgerError):
    """Storage failed: the repository could not be written (full disk, read-only file system,
    permissions), or the store of large files is misconfigured, unreachable, or lacks or
    garbles an object."""


class ReproduceError(LedgerError):
    """A run cannot be rerun as recorded (changed input, missing source, bad project)."""


class DamagedRunError(LedgerError):
    """A run's record in the ledger (or a journal) is damaged or not in the expected format."""


class ModelError(LedgerError):
    """A model folder, flavor or model URI cannot be used (missing MLmodel, unknown flavor...)."""


class ModelSchemaError(ModelError, InvalidInputError):
    """Input to a model does not match its signature (missing or mistyped columns)."""
