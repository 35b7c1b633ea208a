"""Issue 3 benchmark: searching runs, side by side with MLflow (sqlite) in one run.

    pip install -e '.[bench]'
    python bench/bench_query.py              # 10,000 runs for both, 100,000 for the ledger
    python bench/bench_query.py --quick      # 2,000 / 20,000

Runs have 20 params, 5 metrics x 10 steps and 3 tags, as in bench_runs.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    MLFLOW_LOG_BATCH,
    OUT,
    PY,
    TIMER,
    fresh_repo,
    median,
    prime_bytecode,
    report,
    timed_process,
    worker,
)

FILL_LEDGER = """
import json, sys, time
from bulk import fill
from ledger.api import Ledger
lg = Ledger(".")
start = time.perf_counter()
fill(lg, int(sys.argv[1]))
lg.search_runs(max_results=1)  # build the snapshot once
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

QUERY_LEDGER = """
import json, statistics, sys, time
from ledger.api import Ledger
lg = Ledger(".")
def t(fn, n=7):
    fn()  # warm
    out = []
    for _ in range(n):
        s = time.perf_counter(); fn(); out.append(time.perf_counter() - s)
    return statistics.median(out) * 1000
where = "metrics.m0 > 0.5 and params.p1 = '3'"
broad = "metrics.m0 > 0.05 and params.p1 != '3'"
res = {
    "filtered_ms": t(lambda: lg.search_runs(where=where)),
    "broad_ms": t(lambda: lg.search_runs(where=broad)),
    "broad_rows": lg.search_runs(where=broad).num_rows,
    "top10_ms": t(lambda: lg.search_runs(order_by=["metrics.m1 DESC"], max_results=10)),
    "all_ms": t(lambda: lg.search_runs()),
    "rows": lg.search_runs(where=where).num_rows,
}
print(json.dumps(res))
"""


QUERY_MLFLOW = TIMER + """
import json, statistics, sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
exp = sys.argv[2]
where = "metrics.m0 > 0.5 and params.p1 = '3'"
broad = "metrics.m0 > 0.05 and params.p1 != '3'"
res = {
    "filtered_ms": t(lambda: mlflow.search_runs([exp], filter_string=where, max_results=50000)),
    "broad_ms": t(lambda: mlflow.search_runs([exp], filter_string=broad, max_results=50000)),
    "broad_rows": len(mlflow.search_runs([exp], filter_string=broad, max_results=50000)),
    "top10_ms": t(lambda: mlflow.search_runs([exp], order_by=["metrics.m1 DESC"], max_results=10)),
    "all_ms": t(lambda: mlflow.search_runs([exp], max_results=50000)),
    "rows": len(mlflow.search_runs([exp], filter_string=where, max_results=50000)),
}
print(json.dumps(res))
"""

COMMIT_WITH_SNAPSHOT = """
import json, statistics, sys, time
from ledger.api import Ledger
from ledger.query import search
lg = Ledger(".")
snap = search.snapshot(lg)
snap.refresh()
times = []
for i in range(20):
    s = time.perf_counter()
    lg.log_run("cost", params={"p": i}, metrics=[("m", 0.5, 0)])
    snap.refresh()  # snapshot maintenance: catch up with the new commit
    times.append(time.perf_counter() - s)
print(json.dumps({"ms": statistics.median(times) * 1000}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep-big", action="store_true",
                    help="keep the large repository in the bench folder and reuse it next time")
    args = ap.parse_args()
    n, big = (2000, 20_000) if args.quick else (10_000, 100_000)
    prime_bytecode()
    rows = [("measure", "ledger", "MLflow 3 (sqlite)", "ratio")]

    repo = fresh_repo()
    worker(FILL_LEDGER, repo, str(n))
    ours = worker(QUERY_LEDGER, repo)
    fill = worker(MLFLOW_LOG_BATCH, repo, f"sqlite:///{repo.parent}/m.db", str(n))
    theirs = worker(QUERY_MLFLOW, repo, f"sqlite:///{repo.parent}/m.db", fill["experiment"])
    assert ours["rows"] == theirs["rows"], (ours["rows"], theirs["rows"])
    assert ours["broad_rows"] == theirs["broad_rows"], (ours["broad_rows"], theirs["broad_rows"])
    for key, label in (("filtered_ms", f"filtered search ({ours['rows']} hits)"),
                       ("broad_ms", f"filtered search ({ours['broad_rows']} hits)"),
                       ("top10_ms", "top 10 by a metric"),
                       ("all_ms", "all runs (Arrow / DataFrame)")):
        rows.append((f"{label}, {n} runs, warm", f"{ours[key]:.1f} ms", f"{theirs[key]:.0f} ms",
                     f"{theirs[key] / ours[key]:.0f}x"))
    small_cost = worker(COMMIT_WITH_SNAPSHOT, fresh_repo())["ms"]
    large_cost = worker(COMMIT_WITH_SNAPSHOT, repo)["ms"]
    rows.append((f"commit + snapshot upkeep: 0 vs {n} runs", f"{small_cost:.1f} / "
                 f"{large_cost:.1f} ms", "", f"{large_cost / small_cost:.2f}x"))

    kept = OUT / f"query-{big}" / "repo"
    if args.keep_big and (kept / ".git" / "ledger-bench-filled").exists():
        big_repo, fill_s = kept, float("nan")
    else:
        big_repo = fresh_repo()
        fill_s = worker(FILL_LEDGER, big_repo, str(big))["seconds"]
        if args.keep_big:
            shutil.rmtree(kept.parent, ignore_errors=True)
            big_repo.parent.rename(kept.parent)
            big_repo = kept
            (kept / ".git" / "ledger-bench-filled").touch()
    ours = worker(QUERY_LEDGER, big_repo)
    rows.append((f"filtered search, {big} runs, in-process", f"{ours['filtered_ms']:.0f} ms", "",
                 ""))
    cli = [PY, "-m", "ledger.cli", "runs", "--where", "metrics.m0 > 0.5 and params.p1 = '3'",
           "--limit", "20", "--format", "json"]
    timed_process(cli, big_repo, 1)
    whole = median(timed_process(cli, big_repo, 5))
    rows.append((f"`ledger runs --where … --limit 20`, {big} runs", f"{whole * 1000:.0f} ms", "",
                 ""))
    rows.append((f"bulk-load {big} runs (groups of 1000)",
                 "reused" if fill_s != fill_s else f"{fill_s:.0f} s", "", ""))
    report(rows)
    shutil.rmtree(repo.parent, ignore_errors=True)
    if not args.keep_big:
        shutil.rmtree(big_repo.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
