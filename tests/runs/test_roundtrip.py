"""Everything logged comes back exactly: values, order, bytes."""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

from ledger import schema
from ledger.api import Ledger
from tests.conftest import git


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_python_api_round_trip(repo: Path, tmp_path: Path) -> None:
    blob = os.urandom(3 * 1024 * 1024)
    (tmp_path / "model.bin").write_bytes(blob)
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha\n")
    (folder / "sub" / "b.json").write_text('{"b": 1}\n')
    (folder / "sub" / "empty.txt").write_bytes(b"")
    data = repo / "data"
    data.mkdir()
    (data / "train.csv").write_text("x,y\n1,2\n")
    specials = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]

    lg = Ledger(repo)
    with lg.start_run(experiment="iris", name="rf-1", tags={"team": "vision"}) as run:
        run.log_params({"lr": 0.01, "layers": [64, 32], "name": "ünïcode ✓"})
        for step in range(10_000):
            run.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step)
        for i, value in enumerate(specials):
            run.log_metric("special", value, step=i)
        run.set_tags({"stage": "tuning", "long": "x" * 8000})
        run.log_artifact(str(tmp_path / "model.bin"))
        run.log_artifacts(str(folder), artifact_path="plots")
        run.log_text("hello\n", "notes/readme.md")
        run.log_dict({"k": [1, 2]}, "config.json")
        run.log_input(str(data / "train.csv"), context="training")
        run.log_input(str(data))

    lg2 = Ledger(repo)  # a fresh handle reads only what was committed
    got = lg2.get_run(run.id[:8] if False else run.id)
    assert got.info.status == "FINISHED"
    assert got.info.experiment == "iris" and got.info.run_name == "rf-1"
    assert got.params == {"lr": "0.01", "layers": "[64, 32]", "name": "ünïcode ✓"}
    assert got.tags == {"team": "vision", "stage": "tuning", "long": "x" * 8000}
    assert got.metrics["loss"] == 1.0 / 10_000
    hist = lg2.get_metric_history(run.id, "loss")
    assert hist.column("step").to_pylist() == list(range(10_000))
    assert hist.column("value").to_pylist() == [1.0 / (s + 1) for s in range(10_000)]
    assert hist.column("timestamp").to_pylist() == [1_700_000_000_000 + s for s in range(10_000)]
    special = lg2.get_metric_history(run.id, "special").column("value").to_pylist()
    assert [bits(v) for v in special] == [bits(v) for v in specials]
    assert lg2.read_artifact(run.id, "model.bin") == blob
    assert lg2.read_artifact(run.id, "plots/sub/b.json") == b'{"b": 1}\n'
    assert lg2.read_artifact(run.id, "plots/sub/empty.txt") == b""
    assert lg2.read_artifact(run.id, "notes/readme.md") == b"hello\n"
    assert json.loads(lg2.read_artifact(run.id, "config.json")) == {"k": [1, 2]}
    paths = [a["path"] for a in got.artifacts]
    assert paths == sorted(["model.bin", "plots/a.txt", "plots/sub/b.json",
                            "plots/sub/empty.txt", "notes/readme.md", "config.json"])
    out = tmp_path / "out"
    lg2.download_artifacts(run.id, "plots", out)
    assert (out / "plots" / "sub" / "b.json").read_text() == '{"b": 1}\n'
    inputs = {i["path"]: i for i in got.inputs}
    assert inputs["data/train.csv"]["size"] == 8
    assert inputs["data/train.csv"]["context"] == "training"
    assert inputs["data"]["files"] == 1 and inputs["data"]["digest"].startswith("sha256:")
    assert got.source["commit"] == git(repo, "rev-parse", "HEAD").stdout.strip()
    assert got.source["branch"] == "main" and got.source["dirty"] is False
    assert got.environment["python"]
    # the stored record is human-readable in git and matches its schema
    show = git(repo, "show", f"refs/ledger/runs:runs/{run.id[-2:]}/{run.id}/run.json").stdout
    doc = json.loads(show)
    assert schema.errors(doc, "run") == []
    assert doc["params"]["lr"] == "0.01"
    packages = json.loads(git(repo, "show",
                              f"refs/ledger/runs:runs/{run.id[-2:]}/{run.id}/environment.json"
                              ).stdout)
    assert "pyarrow" in {k.lower() for k in packages}
    # one metric file once the run has ended
    listing = git(repo, "ls-tree", "-r", "--name-only", "refs/ledger/runs").stdout.split()
    assert f"runs/{run.id[-2:]}/{run.id}/metrics.parquet" in listing
    assert not any("/metrics/" in p for p in listing)


def test_metric_parquet_is_readable_by_pyarrow(repo: Path) -> None:
    import io

    import pyarrow.parquet as pq

    lg = Ledger(repo)
    rid = lg.log_run("e", metrics=[("acc", 0.5, 1), ("acc", 0.75, 2), ("loss", float("nan"), 0)])
    data = git(repo, "cat-file", "blob",
               f"refs/ledger/runs:runs/{rid[-2:]}/{rid}/metrics.parquet", text=False)
    table = pq.read_table(io.BytesIO(data.stdout))
    assert table.column_names == ["key", "step", "timestamp", "value"]
    assert table.column("key").to_pylist() == ["acc", "acc", "loss"]
    assert table.column("step").to_pylist() == [1, 2, 0]


def test_dirty_tree_records_patch(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    lg = Ledger(repo)
    rid = lg.log_run("e", params={"a": 1})
    run = lg.get_run(rid)
    assert run.source["dirty"] is True and run.source["patch"] == "source.patch"
    patch = git(repo, "show", f"refs/ledger/runs:runs/{rid[-2:]}/{rid}/source.patch").stdout
    assert "+print('changed')" in patch
    # the patch applies to the recorded commit and reproduces the tree
    clone = repo.parent / "check"
    git(repo.parent, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", run.source["commit"])
    (clone / "p.diff").write_text(patch)
    git(clone, "apply", "p.diff")
    assert (clone / "train.py").read_text() == "print('changed')\n"


def test_live_run_is_visible_before_commit(repo: Path) -> None:
    lg = Ledger(repo)
    run = lg.start_run(experiment="live")
    run.log_metric("acc", 0.5, step=1)
    run.log_param("p", "1")
    other = Ledger(repo)  # another handle, as another process on this machine would see it
    seen = other.get_run(run.id)
    assert seen.info.status == "RUNNING" and seen.metrics == {"acc": 0.5}
    assert seen.params == {"p": "1"}
    run.end()
    assert Ledger(repo).get_run(run.id).info.status == "FINISHED"


def test_flush_writes_chunks_then_end_compacts(repo: Path) -> None:
    lg = Ledger(repo)
    run = lg.start_run()
    run.log_metric("a", 1.0, step=0)
    run.flush()
    run.log_metric("a", 2.0, step=1)
    run.flush()
    listing = git(repo, "ls-tree", "-r", "--name-only", "refs/ledger/runs").stdout.split()
    assert sum("/metrics/" in p for p in listing) == 2
    assert Ledger(repo).get_run(run.id).info.status == "RUNNING"
    run.end()
    listing = git(repo, "ls-tree", "-r", "--name-only", "refs/ledger/runs").stdout.split()
    assert not any("/metrics/" in p for p in listing)
    assert Ledger(repo).get_metric_history(run.id).column("value").to_pylist() == [1.0, 2.0]
