"""Validation of stored and exchanged documents against the JSON Schemas in `schemas/`.

jsonschema costs ~90 ms to import, so the write path of the CLI does not call it: the records
it writes are built from validated names (ledger.names). This module checks documents read
from elsewhere (ledger.toml, pushed runs) and serves the tests that hold every writer to the
schema.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInputError

SCHEMAS = Path(__file__).parent / "schemas"


@functools.cache
def load(name: str) -> Any:
    """The JSON Schema `name` (e.g. "run"), shipped in the package (schemas/ at the repository
    root holds the canonical copies; a test keeps them equal)."""
    path = SCHEMAS / f"{name}.schema.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"schema {path.name} is missing from the installation "
                                f"({exc.strerror}); reinstall ledger") from None


@functools.cache
def _validator(name: str) -> Any:
    import jsonschema

    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def errors(doc: Any, name: str) -> list[str]:
    """Every violation of schema `name` (e.g. "run"), as 'path: message' lines."""
    found = []
    for err in sorted(_validator(name).iter_errors(doc), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in err.path) or "(top)"
        found.append(f"{where}: {err.message}")
    return found


def validate(doc: Any, name: str, what: str) -> None:
    """Raise InvalidInputError naming the first violation."""
    found = errors(doc, name)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InvalidInputError(f"{what} does not match schemas/{name}.schema.json: "
                                f"{found[0]}{more}")
