"""Long-lived processes: memory, .git growth, journal cost, logging latency, a loader thread.

    python bench/bench_longlived.py [flushes|service|growth|journal|latency|loader|all] [N]

Each measure runs in its own interpreter on a fresh repository under LEDGER_BENCH_DIR
(default ~/.cache/ledger-bench) and prints one line; `all` prints them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import ENV, PY, fresh_repo, median, worker

RSS = """
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
"""

FLUSHES = RSS + r"""
import json, sys, ledger
n = int(sys.argv[1])
lg = ledger.Ledger(".")
marks = {}
with lg.start_run(name="long") as run:
    for i in range(n):
        for step in range(10):
            run.log_metric("loss", 1.0 / (i + 1), step=i * 10 + step)
        run.flush()
        if i + 1 in (n // 4, n // 2, n):
            marks[i + 1] = rss_mb()
print(json.dumps({str(k): v for k, v in marks.items()}))
"""

SERVICE = RSS + r"""
import json, sys, ledger
n = int(sys.argv[1])
lg = ledger.Ledger(".")
marks = {}
for i in range(n):
    with lg.start_run(name=f"job-{i}", params={"i": i}) as run:
        run.log_metric("loss", 0.5, step=0)
    if i + 1 in (n // 8, n):
        marks[i + 1] = rss_mb()
print(json.dumps({str(k): v for k, v in marks.items()}))
"""

GROWTH = r"""
import json, os, subprocess, sys, ledger

def git_bytes():
    total = 0
    for root, _dirs, files in os.walk(".git/objects"):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total

n = int(sys.argv[1])
lg = ledger.Ledger(".")
sizes = [git_bytes()]
with lg.start_run(name="long") as run:
    for i in range(n):
        for step in range(10):
            run.log_metric("loss", 1.0 / (i + 1), step=i * 10 + step)
        run.flush()
        sizes.append(git_bytes())
half = n // 2
first = (sizes[half] - sizes[0]) / half
second = (sizes[n] - sizes[half]) / (n - half)
subjects = subprocess.run(["git", "log", "--first-parent", "--format=%s", "refs/ledger/runs"],
                          capture_output=True, text=True).stdout.splitlines()
print(json.dumps({"first_half": first, "second_half": second, "total": sizes[n] - sizes[0],
                  "first_parent_lines": len(subjects)}))
"""

JOURNAL = r"""
import json, os, sys, ledger
n = int(sys.argv[1])
os.environ["LEDGER_FLUSH_SECONDS"] = "1e9"  # keep every point in the live journal
run = ledger.start_run(name="live")
for i in range(n):
    run.log_metric("loss", 0.5, step=i)
print(run.id, flush=True)
sys.stdin.readline()
"""

LATENCY = r"""
import json, os, sys, time, ledger
n = int(sys.argv[1])
os.environ["LEDGER_FLUSH_SECONDS"] = "1e9"
run = ledger.start_run(name="fast")
for i in range(n):
    run.log_metric("loss", 0.5, step=i)
# ~n points buffered: the next flush is due; log on while it commits them
run._next_flush = 0.0
run._interval = 1e9
try:
    from ledger.runs.flusher import FLUSHER
    FLUSHER._wake.set()
except ImportError:  # before the flush thread: the next log_metric call flushes
    pass
worst = 0.0
start = time.perf_counter()
i = n
while time.perf_counter() - start < 10:
    t = time.perf_counter()
    run.log_metric("loss", 0.5, step=i)
    worst = max(worst, time.perf_counter() - t)
    i += 1
ledger.end_run()
print(json.dumps({"worst_ms": worst * 1000, "calls": i - n}))
"""

LOADER = r"""
import json, sys, threading, ledger
from ledger.errors import RunStateError
lg = ledger.Ledger(".")
total_acked = total_lost = 0
for _ in range(int(sys.argv[1])):
    acked = []
    started = threading.Event()
    with lg.start_run(name="stress") as run:
        def load():
            i = 0
            while True:
                try:
                    run.log_metric("x", float(i), step=i)
                except RunStateError:
                    return
                acked.append(i)
                i += 1
                if i == 20000:
                    started.set()
        t = threading.Thread(target=load)
        t.start()
        started.wait()
    t.join()
    stored = {p[1] for p in lg.metric_points(run.id, "x")}
    total_acked += len(acked)
    total_lost += len(set(acked) - stored)
    assert lg.get_run(run.id).info.status == "FINISHED"
print(json.dumps({"acked": total_acked, "lost": total_lost}))
"""


def flushes(n: int) -> None:
    out = worker(FLUSHES, fresh_repo("long-"), str(n))
    shown = ", ".join(f"{v:.0f} MB after {k}" for k, v in out.items())
    print(f"RSS of one run flushed {n} times: {shown}")


def service(n: int) -> None:
    out = worker(SERVICE, fresh_repo("long-"), str(n))
    first, last = out[str(n // 8)], out[str(n)]
    print(f"RSS of a service after {n} runs: {last:.0f} MB "
          f"(after {n // 8}: {first:.0f} MB; {(last - first) * 1024 / (n - n // 8):.1f} KB/run)")


def growth(n: int) -> None:
    out = worker(GROWTH, fresh_repo("long-"), str(n))
    print(f".git growth per flush over {n} flushes: first half {out['first_half'] / 1024:.1f} KB,"
          f" second half {out['second_half'] / 1024:.1f} KB (total {out['total'] / 2**20:.1f} MB;"
          f" first-parent log lines: {out['first_parent_lines']})")


def journal(n: int) -> None:
    repo = fresh_repo("long-")
    cmd = [PY, "-m", "ledger.cli", "log", "-p", "a=1"]

    def timed() -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=repo, env=ENV, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        return median(times)

    without = timed()
    live = subprocess.Popen([PY, "-c", JOURNAL, str(n)], cwd=repo, env=ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert live.stdout is not None and live.stdin is not None
    live.stdout.readline()
    size = sum(p.stat().st_size for p in (repo / ".git/ledger/journal").glob("*.journal"))
    try:
        with_journal = timed()
    finally:
        live.stdin.write("\n")
        live.stdin.close()
        live.wait()
    print(f"`ledger log` with a {n:.0e}-point live journal ({size / 2**20:.0f} MB): "
          f"{with_journal:.2f} s vs {without:.2f} s without ({with_journal / without:.2f}x)")


def latency(n: int) -> None:
    out = worker(LATENCY, fresh_repo("long-"), str(n))
    print(f"worst log_metric latency while {n} buffered points are flushed: "
          f"{out['worst_ms']:.1f} ms over {out['calls']} calls")


def loader(n: int) -> None:
    out = worker(LOADER, fresh_repo("long-"), str(n))
    print(f"points lost under a loader thread while the run ends ({n} runs): "
          f"{out['lost']} of {out['acked']} acknowledged")


MEASURES = {"flushes": (flushes, 2000), "service": (service, 8000), "growth": (growth, 2000),
            "journal": (journal, 1_000_000), "latency": (latency, 500_000),
            "loader": (loader, 10)}

if __name__ == "__main__":
    os.environ.update(ENV)
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    count = int(float(sys.argv[2])) if len(sys.argv) > 2 else None
    for name, (fn, default) in MEASURES.items():
        if which in (name, "all"):
            fn(count or default)
