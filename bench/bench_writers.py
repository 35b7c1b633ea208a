"""Issue 10 benchmark: concurrent writer processes into one repository, against MLflow (sqlite).

    python bench/bench_writers.py                 # 8 processes x 25 runs, 3 rounds
    python bench/bench_writers.py --procs 4 --runs 50 --rounds 1

Every process starts at once and logs runs of the benchmarks' shape (20 params, 5 metrics x 10
steps, 3 tags); the figure is runs per second over the whole thing (start of the first process
to the end of the last), and each round checks that every run landed, complete.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_runs import LEDGER_RUNS  # one process: argv[1] runs of the benchmarks' shape
from common import ENV, PY, fresh_repo, median, prime_bytecode, report

MLFLOW_WRITER = """
import sys, time, mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri(sys.argv[3])
client = MlflowClient()
exp = client.get_experiment_by_name("writers").experiment_id
w, n = int(sys.argv[1]), int(sys.argv[2])
for r in range(n):
    run = client.create_run(exp, run_name=f"w{w}-{r}")
    ts = int(time.time() * 1000)
    client.log_batch(run.info.run_id,
        metrics=[Metric(f"m{m}", (r + m) / (s + 1), ts, s) for s in range(10) for m in range(5)],
        params=[Param(f"p{i}", str(i * r)) for i in range(20)],
        tags=[RunTag("a", "x"), RunTag("b", str(r)), RunTag("c", "z")])
    client.set_terminated(run.info.run_id)
"""

MLFLOW_SETUP = """
import sys, mlflow
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
MlflowClient().create_experiment("writers")
"""

LEDGER_CHECK = """
import json
from ledger.api import Ledger
lg = Ledger(".")
runs = [f.record for f in lg.store.folders(lg.store.root(lg.store.head()))]
complete = [r for r in runs if r.status == "FINISHED" and len(r.params) == 20
            and len(r.metrics) == 5 and len(r.tags) == 3]
print(json.dumps({"runs": len(runs), "complete": len(complete)}))
"""


def together(cmds: list[list[str]], cwd: Path) -> float:
    """Start every command at once; seconds until the last one ends."""
    start = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for c in cmds]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(err[-3000:])
    return time.perf_counter() - start


def ledger_round(procs: int, runs: int) -> tuple[float, dict, int]:
    repo = fresh_repo("writers-")
    seconds = together([[PY, "-c", LEDGER_RUNS, str(runs)] for _ in range(procs)], repo)
    check = json.loads(subprocess.run([PY, "-c", LEDGER_CHECK], cwd=repo, env=ENV, text=True,
                                      capture_output=True, check=True).stdout)
    commits = int(subprocess.run(["git", "rev-list", "--count", "refs/ledger/runs"], cwd=repo,
                                 capture_output=True, text=True, check=True).stdout)
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=repo,
                          capture_output=True, text=True)
    if fsck.returncode != 0:
        raise RuntimeError(f"git fsck failed: {fsck.stderr[-2000:]}")
    shutil.rmtree(repo.parent, ignore_errors=True)
    return seconds, check, commits


def mlflow_round(procs: int, runs: int) -> float:
    repo = fresh_repo("writers-mlflow-")
    uri = f"sqlite:///{repo.parent}/mlflow.db"
    subprocess.run([PY, "-c", MLFLOW_SETUP, uri], cwd=repo, env=ENV, check=True,
                   capture_output=True)
    seconds = together([[PY, "-c", MLFLOW_WRITER, str(w), str(runs), uri]
                        for w in range(procs)], repo)
    shutil.rmtree(repo.parent, ignore_errors=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    prime_bytecode()
    total = args.procs * args.runs
    ours, theirs, checks = [], [], []
    for _ in range(args.rounds):  # interleaved, so that both see the same machine load
        seconds, check, commits = ledger_round(args.procs, args.runs)
        ours.append(seconds)
        checks.append((check, commits))
        theirs.append(mlflow_round(args.procs, args.runs))
    for check, _commits in checks:
        if check != {"runs": total, "complete": total}:
            raise SystemExit(f"runs missing or incomplete: {check}")
    a, b = median(ours), median(theirs)
    rows = [("measure", "ledger", "MLflow 3 (sqlite)", "ratio"),
            (f"{args.procs} processes x {args.runs} runs, runs/s (median of {args.rounds})",
             f"{total / a:.0f} runs/s ({a:.2f} s)", f"{total / b:.0f} runs/s ({b:.2f} s)",
             f"{b / a:.1f}x"),
            ("every run landed, complete (ledger)", f"{total}/{total} in each round",
             "", ""),
            ("commits on refs/ledger/runs", ", ".join(str(c) for _, c in checks), "", "")]
    report(rows)


if __name__ == "__main__":
    main()
