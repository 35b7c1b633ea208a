"""The fast path for ledger.toml's schema agrees with jsonschema (Hypothesis)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.registry import quickcheck
from ledger.registry.desired import load_schema, schema_problems

SCHEMA = load_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "ledger-toml.schema.json"

names = st.sampled_from(["iris", "team/cnn", "a", "a-b_c9", "policy", "production", "Bad", "a//b",
                         "-x", "x-", "", "caf\u00e9", "a b"])
versions = st.sampled_from(["v1.2.0", "v0.0.1", "v1.0.0-rc.1+b5", "1.2.0", "v01.2.3", "latest",
                            "v1.2", ""]) | st.integers() | st.booleans()
thresholds = st.sampled_from(["metrics.acc >= 0.9", "metrics.val loss<1e-3", " metrics.a == -1 ",
                              "acc > 1", "metrics.acc >> 1", "metrics. >= 1", "metrics.a>=.5"])
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
policies = st.fixed_dictionaries({}, optional={
    "require_signed": st.booleans() | st.integers(0, 1) | st.text(max_size=1),
    "stages": st.lists(names, max_size=3) | names,
    "thresholds": st.dictionaries(names, st.lists(thresholds | st.integers(), max_size=2)
                                  | thresholds, max_size=2),
}) | st.dictionaries(st.sampled_from(["require_signed", "stages", "thresholds", "other"]),
                     scalars, max_size=2)
models = st.dictionaries(names, versions | policies, max_size=3) | scalars
storages = st.dictionaries(st.sampled_from(["url", "large_file_bytes", "other"]),
                          scalars | st.integers(-1, 2), max_size=2)
docs = st.fixed_dictionaries({}, optional={
    "registry": st.dictionaries(names, models, max_size=3) | scalars,
    "policy": policies,
    "storage": storages,
}) | st.dictionaries(st.sampled_from(["registry", "policy", "other"]), scalars, max_size=2)
# mostly well-formed documents, with one bad value now and then
good_names = st.sampled_from(["iris", "team/cnn", "a", "a-b_c9", "production", "staging"])
good_policies = st.fixed_dictionaries({}, optional={
    "require_signed": st.booleans(),
    "stages": st.lists(good_names, max_size=3, unique=True),
    "thresholds": st.dictionaries(good_names, st.lists(thresholds, max_size=2), max_size=2),
})
good_models = st.dictionaries(good_names, st.sampled_from(["v1.2.0", "v0.0.1", "v2.0.0-rc.1"])
                              | good_policies, max_size=3)
docs = docs | st.fixed_dictionaries({}, optional={
    "registry": st.dictionaries(good_names | names, good_models | models, max_size=3),
    "policy": good_policies,
})


def jsonschema_accepts(doc: Any) -> bool:
    return not any(True for _ in VALIDATOR.iter_errors(doc))


@settings(max_examples=600, deadline=None)
@given(docs)
def test_fast_path_agrees_with_jsonschema(doc: Any) -> None:
    assert quickcheck.is_valid(doc, SCHEMA) == jsonschema_accepts(doc)


def test_both_verdicts_and_the_messages_still_come_from_jsonschema() -> None:
    good = {"policy": {"stages": ["staging", "production"], "require_signed": True,
                       "thresholds": {"production": ["metrics.acc >= 0.9"]}},
            "registry": {"iris": {"staging": "v1.2.0", "policy": {"require_signed": False}}}}
    bad = {"registry": {"iris": {"staging": "latest"}}}
    assert quickcheck.is_valid(good, SCHEMA) and jsonschema_accepts(good)
    assert schema_problems(good) == []
    assert not quickcheck.is_valid(bad, SCHEMA)
    (problem,) = schema_problems(bad)
    assert str(problem).startswith("ledger.toml: registry.iris.staging: 'latest' is not")


def test_schema_is_the_one_the_fast_path_was_written_for() -> None:
    # Changing the schema? Update ledger/registry/quickcheck.py, then this digest.
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert digest == "838303b30b3d08bb808fa9df1d144aa288ada4988f817291a343fa680ef1deca"
