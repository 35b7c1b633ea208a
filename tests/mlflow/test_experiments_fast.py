"""The experiment look-ups on the plugin's and the importer's hot paths, which read the
experiments document and not the run table: `for_new_run` (MLflow's create_run) and `record`
(`ledger import`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import names
from ledger.api import Ledger
from ledger.errors import InvalidInputError
from ledger.mlflow_compat import experiments
from ledger.mlflow_compat.experiments import EXPERIMENTS_REF, ExperimentNotFoundError


def test_record_is_one_idempotent_swap(repo: Path) -> None:
    lg = Ledger(repo)
    experiments.record(lg, "imported", {"team": "vision"})
    head = lg.store.refs.get(EXPERIMENTS_REF)
    experiments.record(lg, "imported", {"team": "vision"})  # nothing new: no commit
    assert lg.store.refs.get(EXPERIMENTS_REF) == head
    found = experiments.get_by_name(lg, "imported")
    assert found is not None and found.tags == {"team": "vision"}
    experiments.record(lg, "gone", deleted=True)
    assert experiments.get(lg, "gone").lifecycle_stage == "deleted"
    experiments.record(lg, names.DEFAULT_EXPERIMENT)  # always exists: nothing to record
    assert lg.store.refs.get(EXPERIMENTS_REF) != head
    with pytest.raises(InvalidInputError):
        experiments.record(lg, names.DEFAULT_EXPERIMENT, deleted=True)


def test_for_new_run_finds_recorded_and_run_only_experiments(repo: Path) -> None:
    lg = Ledger(repo)
    experiments.create(lg, "made")
    assert experiments.for_new_run(lg, "made").name == "made"
    assert experiments.for_new_run(lg, "0").name == names.DEFAULT_EXPERIMENT
    lg.log_run("only-by-runs", "r1")  # never recorded: found through the run table
    assert experiments.for_new_run(lg, "only-by-runs").lifecycle_stage == "active"
    experiments.set_deleted(lg, "made", True)
    assert experiments.for_new_run(lg, "made").lifecycle_stage == "deleted"
    with pytest.raises(ExperimentNotFoundError):
        experiments.for_new_run(lg, "nowhere")
