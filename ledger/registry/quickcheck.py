"""A fast path for the schema of ``ledger.toml``: True only for documents the schema accepts.

Importing jsonschema and building its validator costs ~80 ms, a third of what a whole
``ledger registry check`` may take. The schema is small, so this walks it by hand, with the
patterns read from the schema file itself, and answers whether a document is valid; only a
document it does not accept goes through jsonschema, which then words the problems. The
tests hold it to jsonschema's verdict on generated documents, and pin the schema's digest so
that a change to the schema cannot leave this behind unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def _patterns(schema: Mapping[str, Any]) -> tuple[re.Pattern[str], re.Pattern[str],
                                                   re.Pattern[str], re.Pattern[str]]:
    defs = schema["$defs"]
    return (re.compile(defs["name"]["pattern"]), re.compile(defs["name"]["not"]["pattern"]),
            re.compile(defs["version"]["pattern"]), re.compile(defs["threshold"]["pattern"]))


def is_valid(doc: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``doc`` (parsed ``ledger.toml``) matches ``schemas/ledger-toml.schema.json``."""
    name_re, not_name_re, version_re, threshold_re = _patterns(schema)

    def name(value: Any) -> bool:  # jsonschema's "pattern" is re.search, as here
        return isinstance(value, str) and bool(name_re.search(value)) \
            and not not_name_re.search(value)

    def policy(value: Any) -> bool:
        if not isinstance(value, dict) or set(value) - {"require_signed", "stages", "thresholds"}:
            return False
        if "require_signed" in value and not isinstance(value["require_signed"], bool):
            return False
        stages = value.get("stages", [])
        if not isinstance(stages, list) or not all(name(s) for s in stages) \
                or len(set(stages)) != len(stages):
            return False
        thresholds = value.get("thresholds", {})
        return isinstance(thresholds, dict) and all(
            name(stage) and isinstance(exprs, list)
            and all(isinstance(e, str) and threshold_re.search(e) for e in exprs)
            for stage, exprs in thresholds.items())

    def model(value: Any) -> bool:
        return isinstance(value, dict) and all(
            name(key) and (policy(item) if key == "policy"
                           else isinstance(item, str) and bool(version_re.search(item)))
            for key, item in value.items())

    def storage(value: Any) -> bool:
        if not isinstance(value, dict) or set(value) - {"url", "large_file_bytes"}:
            return False
        url, size = value.get("url", "x"), value.get("large_file_bytes", 1)
        return isinstance(url, str) and len(url) >= 1 and isinstance(size, int) \
            and not isinstance(size, bool) and size >= 1

    if not isinstance(doc, dict) or set(doc) - {"registry", "policy", "storage"}:
        return False
    if "storage" in doc and not storage(doc["storage"]):
        return False
    if "policy" in doc and not policy(doc["policy"]):
        return False
    registry = doc.get("registry", {})
    return isinstance(registry, dict) and all(name(k) and model(v) for k, v in registry.items())
