"""Issue 2 benchmark: the ledger's write path against MLflow, measured side by side.

    pip install -e '.[bench]'
    python bench/bench_runs.py            # full sizes (takes a few minutes)
    python bench/bench_runs.py --quick    # smaller sizes for a smoke run

Prints one row per measure: the ledger's figure, MLflow's figure, and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    ENV,
    MLFLOW_LOG_BATCH,
    PY,
    fresh_repo,
    median,
    prime_bytecode,
    report,
    settle,
    timed_process,
    worker,
)

MLFLOW_MINIMAL = """
import mlflow, sys
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run():
    mlflow.log_param("lr", 0.1)
    mlflow.log_metric("acc", 0.9)
"""

LEDGER_LOOP = """
import json, sys, time, ledger
lg = ledger.Ledger(".")
run = lg.start_run(experiment="loop")
n = int(sys.argv[1])
log = run.log_metric
start = time.perf_counter()
for i in range(n):
    log("loss", 0.5, step=i)
elapsed = time.perf_counter() - start
run.end()
print(json.dumps({"per_call_us": elapsed / n * 1e6}))
"""

MLFLOW_LOOP = """
import json, sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
n = int(sys.argv[2])
with mlflow.start_run():
    start = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", 0.5, step=i)
    elapsed = time.perf_counter() - start
print(json.dumps({"per_call_us": elapsed / n * 1e6}))
"""

LEDGER_RUNS = """
import json, sys, time, ledger
lg = ledger.Ledger(".")
n = int(sys.argv[1])
start = time.perf_counter()
for r in range(n):
    with lg.start_run(experiment="bench", name=f"run-{r}") as run:
        run.log_params({f"p{i}": i * r for i in range(20)})
        for step in range(10):
            for m in range(5):
                run.log_metric(f"m{m}", (r + m) / (step + 1), step=step)
        run.set_tags({"a": "x", "b": str(r), "c": "z"})
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


LEDGER_COMMIT_COST = """
import json, statistics, sys, time
from bulk import fill
from ledger.api import Ledger
lg = Ledger(".")
have = sum(1 for _ in lg.store.run_ids(lg.store.root(lg.store.head())))
fill(lg, max(0, int(sys.argv[1]) - have), "fill", group_size=500)
times = []
for i in range(int(sys.argv[2])):
    start = time.perf_counter()
    lg.log_run("cost", params={f"p{j}": j for j in range(20)},
               metrics=[(f"m{m}", 0.5, s) for s in range(10) for m in range(5)],
               tags={"a": "x", "b": "y", "c": "z"})
    times.append(time.perf_counter() - start)
print(json.dumps({"ms": statistics.median(times) * 1000 if times else 0.0}))
"""


WAIT_FOR_MERGES = """
import json
from ledger.store.gitdir import find
from ledger.store.packs import Packs
Packs(find(".").objects_dir).wait()
print(json.dumps({}))
"""


def repo_size_kib(repo: Path) -> float:
    subprocess.run(["git", "-C", str(repo), "gc", "-q", "--prune=now"], check=True, env=ENV)
    out = subprocess.run(["git", "-C", str(repo), "count-objects", "-v"], capture_output=True,
                         text=True, check=True).stdout
    fields = dict(line.split(": ") for line in out.strip().splitlines())
    return float(fields["size-pack"]) + float(fields["size"])


def dir_size(path: Path) -> tuple[float, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1024, len(files)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_runs = 200 if args.quick else 1000
    big = 2000 if args.quick else 10_000
    prime_bytecode()
    rows = [("measure", "ledger", "MLflow 3 (sqlite / file store)", "ratio")]

    repo = fresh_repo()
    ledger_cli = [PY, "-m", "ledger.cli", "log", "-p", "a=1", "-m", "m=1.0"]
    timed_process(ledger_cli, repo, 2)  # warm the user's cache (package list) once
    ours = median(timed_process(ledger_cli, repo, 15))
    # the first run in a new repository: nothing of the repository's is warm
    firsts = [fresh_repo("first-") for _ in range(9)]
    first = median([timed_process(ledger_cli, path, 1)[0] for path in firsts])
    sqlite_uri = f"sqlite:///{repo.parent}/mlflow.db"
    theirs = median(timed_process([PY, "-c", MLFLOW_MINIMAL, sqlite_uri], repo, 3))
    rows.append(("one-shot run, whole process (median)", f"{ours * 1000:.0f} ms",
                 f"{theirs * 1000:.0f} ms", f"{theirs / ours:.1f}x"))
    rows.append(("one-shot run in a fresh repository (median)", f"{first * 1000:.0f} ms",
                 f"{theirs * 1000:.0f} ms", f"{theirs / first:.1f}x"))

    ours = worker(LEDGER_LOOP, repo, "200000")["per_call_us"]
    file_uri = f"file://{repo.parent}/mlruns"
    theirs_file = worker(MLFLOW_LOOP, repo, file_uri, "1000")["per_call_us"]
    theirs_sql = worker(MLFLOW_LOOP, repo, sqlite_uri, "200")["per_call_us"]
    rows.append(("log_metric in a loop, per call", f"{ours:.2f} µs",
                 f"{theirs_sql:.0f} µs / {theirs_file:.0f} µs",
                 f"{theirs_sql / ours:.0f}x / {theirs_file / ours:.0f}x"))

    runs_repo = fresh_repo()
    git_before, files_before = dir_size(runs_repo / ".git")
    ours = worker(LEDGER_RUNS, runs_repo, str(n_runs))["seconds"]
    git_after, files_after = dir_size(runs_repo / ".git")
    worker(WAIT_FOR_MERGES, runs_repo)
    git_merged, files_merged = dir_size(runs_repo / ".git")
    theirs = worker(MLFLOW_LOG_BATCH, runs_repo,
                    f"sqlite:///{runs_repo.parent}/batch.db", str(n_runs))["seconds"]
    rows.append((f"{n_runs} runs (20 params, 5x10 metrics, 3 tags)", f"{ours:.2f} s",
                 f"{theirs:.2f} s (log_batch)", f"{theirs / ours:.1f}x"))
    rows.append((f".git growth per run, {n_runs} runs, before any gc",
                 f"{(git_after - git_before) / n_runs:.2f} KiB/run",
                 f"{(git_merged - git_before) / n_runs:.2f} KiB/run once the ledger's "
                 "merges ran", ""))
    rows.append((f"files added to .git by {n_runs} runs", f"{files_after - files_before}",
                 f"{files_merged - files_before} once the ledger's merges ran", ""))
    size = repo_size_kib(runs_repo)
    mlflow_db = (runs_repo.parent / "batch.db").stat().st_size / 1024
    rows.append((f"size of {n_runs} runs after git gc", f"{size / n_runs:.2f} KiB/run",
                 f"{mlflow_db / n_runs:.2f} KiB/run (sqlite)", ""))

    cost_repo = fresh_repo()
    # fill and measure in separate processes, after the fill's writes reached the disk, so
    # that both sizes are measured alike (not the page-cache writeback of a bulk load)
    worker(LEDGER_COMMIT_COST, cost_repo, "100", "0")
    settle(cost_repo)
    small = worker(LEDGER_COMMIT_COST, cost_repo, "100", "40")["ms"]
    worker(LEDGER_COMMIT_COST, cost_repo, str(big), "0")
    waited = settle(cost_repo)
    large = worker(LEDGER_COMMIT_COST, cost_repo, str(big), "40")["ms"]
    rows.append((f"commit one run: 100 vs {big} runs in ledger", f"{small:.1f} / {large:.1f} ms",
                 f"(file system settled {waited:.0f} s after the bulk load)",
                 f"{large / small:.2f}x"))
    report(rows)
    for path in (repo, runs_repo, cost_repo, *firsts):
        shutil.rmtree(path.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
