"""`datasets.name|digest|context` and `attributes.artifact_uri` filters with MLflow's meaning: a
dataset comparison holds when it holds for some input of the run. The expected results are
what MLflow 3.17's sqlite store answers for the same three runs (checked by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.errors import FilterSyntaxError
from ledger.query import table
from ledger.query.filter import filter_table, parse_filter
from ledger.runs.record import RunRecord
from tests.conftest import run_ledger

TWO, ONE, NONE = "a" * 32, "b" * 32, "c" * 32
DIGEST = "sha256:" + "d" * 64


def record(rid: str, *inputs: dict[str, object]) -> RunRecord:
    rec = RunRecord(id=rid, name=rid[:4], start_time=1000)
    for entry in inputs:
        rec.add_input({"digest": DIGEST, "size": 0, **entry})
    return rec


RUNS = table.build([
    record(TWO, {"path": "train", "context": "training", "dataset_digest": "2981c147"},
           {"path": "eval", "context": "eval", "digest": "sha256:" + "e" * 64}),
    record(ONE, {"path": "train"}),
    record(NONE),
])


@pytest.mark.parametrize(("where", "expected"), [
    ("datasets.name = 'train'", {TWO, ONE}),
    ("datasets.name != 'train'", {TWO}),  # some input is not named train
    ("datasets.name NOT IN ('train')", {TWO}),
    ("datasets.name IN ('eval', 'x')", {TWO}),
    ("dataset.name IN ('train', )", {TWO, ONE}),
    ("datasets.`name` = \"train\"", {TWO, ONE}),
    ("datasets.name LIKE 'TR%'", set()),
    ("datasets.name ILIKE 'TR%'", {TWO, ONE}),
    ("datasets.name LIKE '_val'", {TWO}),
    ("datasets.name LIKE 'train%'", {TWO, ONE}),  # % stays within one input's name
    ("datasets.name LIKE '%train%eval%'", set()),
    ("datasets.name = 'tr''ain'", set()),
    ("datasets.context = 'training'", {TWO}),  # an input without context is not compared
    ("datasets.context != 'training'", {TWO}),
    ("datasets.context LIKE '%'", {TWO}),
    ("datasets.digest = '2981c147'", {TWO}),  # MLflow's own digest, when MLflow gave one
    (f"datasets.digest = '{DIGEST}'", {ONE}),  # else the ledger's
    ("datasets.name = 'train' AND datasets.name = 'eval'", {TWO}),
    ("datasets.name = 'train' AND datasets.context = 'eval'", {TWO}),  # clause by clause
    # the ledger's extensions: NOT, NOT LIKE, IS [NOT] NULL
    ("NOT datasets.name = 'eval'", {ONE}),
    ("datasets.name NOT LIKE 'e%'", {TWO, ONE}),
    ("datasets.name IS NOT NULL", {TWO, ONE}),
    ("datasets.context IS NULL", {ONE, NONE}),
])
def test_dataset_filters_match_some_input(where: str, expected: set[str]) -> None:
    assert set(filter_table(RUNS, where)["run_id"].to_pylist()) == expected


@pytest.mark.parametrize(("where", "fragment"), [
    ("datasets.name > 'a'", "comparator '>' is not allowed for datasets"),
    ("datasets.foo = 'a'", "unknown dataset key 'foo'"),
    ("datasets.name = 1", "holds strings"),
    ("artifact_uri >= 'a'", "not allowed for the attribute 'artifact_uri'"),
])
def test_what_mlflow_refuses_is_refused(where: str, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError, match=fragment):
        parse_filter(where)


def test_cli_and_api_filter_on_inputs_and_artifact_uri(repo: Path) -> None:
    (repo / "train.csv").write_text("a,b\n1,2\n")
    (repo / "eval.csv").write_text("a,b\n3,4\n")
    script = repo / "log.py"
    script.write_text(
        "import ledger\n"
        "with ledger.start_run(name='both'):\n"
        "    ledger.log_input('train.csv', context='training')\n"
        "    ledger.log_input('eval.csv', context='eval')\n"
        "with ledger.start_run(name='train-only'):\n"
        "    ledger.log_input('train.csv')\n"
        "with ledger.start_run(name='none'):\n"
        "    pass\n"
        "found = ledger.search_runs(filter_string=\"datasets.context = 'training'\",\n"
        "                           output_format='list')\n"
        "print([r.info.run_name for r in found])\n")
    out = subprocess.run([sys.executable, str(script)], cwd=repo, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "['both']"  # ledger.search_runs(filter_string=...)

    def names(where: str) -> list[str]:
        res = run_ledger("runs", "--where", where, "--format", "json", cwd=repo)
        assert res.code == 0, res.err
        return sorted(r["name"] for r in json.loads(res.out))

    assert names("datasets.name = 'train.csv'") == ["both", "train-only"]
    assert names("datasets.name != 'train.csv'") == ["both"]
    assert names("datasets.context IN ('eval')") == ["both"]
    digest = json.loads(run_ledger("runs", "--where", "name = 'train-only'", "--format", "json",
                                   cwd=repo).out)[0]["inputs"][0]["digest"]
    assert names(f"datasets.digest = '{digest}'") == ["both", "train-only"]
    assert names("attributes.artifact_uri LIKE 'ledger://%/artifacts'") == \
        ["both", "none", "train-only"]
    rid = json.loads(run_ledger("runs", "--where", "name = 'none'", "--format", "json",
                                cwd=repo).out)[0]["id"]
    uri = f"ledger://{repo.resolve().as_posix()}/runs/{rid}/artifacts"
    assert names(f"attributes.artifact_uri = '{uri}'") == ["none"]
    res = run_ledger("runs", "--where", "datasets.name > 'a'", cwd=repo)
    assert res.code == 1 and "not allowed for datasets" in res.err
