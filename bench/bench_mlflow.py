"""MLflow compatibility, side by side with MLflow 3 on its sqlite store (run by hand):

- stock MLflow code (fluent API) logging N runs of 20 params, 5 metrics x 10 steps, 3 tags,
  through the plugin (`ledger:///repo`) and on `sqlite:///…`;
- `mlflow.search_runs` with a filter over 10,000 runs, the same code on both stores;
- `ledger import` of the 10,000-run sqlite store (runs per second).

    python bench/bench_mlflow.py [--runs 1000] [--search-runs 10000] [--quick]

(--quick: 200 runs and a 2,000-run search, a few minutes instead of half an hour.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import (
    ENV,
    MLFLOW_LOG_BATCH,
    PY,
    TIMER,
    fresh_repo,
    prime_bytecode,
    report,
    settle,
    worker,
)

LOG_FLUENT = """
import json, sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("bench")
n = int(sys.argv[2])
start = time.perf_counter()
for r in range(n):
    with mlflow.start_run(run_name=f"run-{r}"):
        mlflow.log_params({f"p{i}": (i * r) % 11 for i in range(20)})
        for s in range(10):
            mlflow.log_metrics({f"m{m}": ((r * 7919 + m) % 1000) / 1000 / (s + 1)
                                for m in range(5)}, step=s)
        mlflow.set_tags({"a": "x", "b": str(r % 7), "c": "z"})
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

FILL_LEDGER = """
import json, sys, time
from bulk import fill
from ledger.api import Ledger
start = time.perf_counter()
fill(Ledger("."), int(sys.argv[1]))
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

SEARCH = TIMER + """
import json, statistics, sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
exps = sys.argv[2].split(",")
where = "metrics.m0 > 0.05 and params.p1 = '3'"
print(json.dumps({
    "ms": t(lambda: mlflow.search_runs(exps, filter_string=where, max_results=50000)),
    "ms_list": t(lambda: mlflow.search_runs(exps, filter_string=where, max_results=50000,
                                            output_format="list")),
    "rows": len(mlflow.search_runs(exps, filter_string=where, max_results=50000)),
}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--search-runs", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="200 runs, a 2,000-run search")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.search_runs = 200, 2000
    prime_bytecode()
    rows = [("measure", "ledger", "MLflow 3 (sqlite)", "ratio")]

    repo = fresh_repo()
    ours = worker(LOG_FLUENT, repo, f"ledger://{repo}", str(args.runs))["seconds"]
    theirs = worker(LOG_FLUENT, repo, f"sqlite:///{repo.parent}/log.db", str(args.runs))[
        "seconds"]
    rows.append((f"stock MLflow code, {args.runs} runs (20 params, 5x10 metrics)",
                 f"{ours:.1f} s", f"{theirs:.1f} s", f"{theirs / ours:.1f}x"))

    n = args.search_runs
    repo = fresh_repo()
    worker(FILL_LEDGER, repo, str(n))
    settle(repo)
    db = f"sqlite:///{repo.parent}/search.db"
    exp = worker(MLFLOW_LOG_BATCH, repo, db, str(n))["experiment"]
    ours_q = worker(SEARCH, repo, f"ledger://{repo}", ",".join(f"exp{i}" for i in range(5)))
    theirs_q = worker(SEARCH, repo, db, exp)
    assert ours_q["rows"] == theirs_q["rows"], (ours_q, theirs_q)
    rows.append((f"mlflow.search_runs with a filter, {n} runs ({ours_q['rows']} hits)",
                 f"{ours_q['ms']:.0f} ms", f"{theirs_q['ms']:.0f} ms",
                 f"{theirs_q['ms'] / ours_q['ms']:.0f}x"))
    # the same with output_format="list": the store's search without MLflow's DataFrame
    # building (two pd.to_datetime per run), which costs both stores the same
    rows.append(('  the same, output_format="list"', f"{ours_q['ms_list']:.0f} ms",
                 f"{theirs_q['ms_list']:.0f} ms",
                 f"{theirs_q['ms_list'] / ours_q['ms_list']:.0f}x"))

    target = fresh_repo()
    import subprocess

    start = time.perf_counter()
    subprocess.run([PY, "-m", "ledger.cli", "import", db], cwd=target, env=ENV, check=True,
                   stdout=subprocess.DEVNULL)
    took = time.perf_counter() - start
    rows.append((f"ledger import of a {n}-run sqlite store", f"{n / took:.0f} runs/s",
                 f"({took:.1f} s)", ""))
    report(rows)


if __name__ == "__main__":
    main()
