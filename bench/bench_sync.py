"""Issue 4 benchmark: sharing the ledger through a git remote.

    python bench/bench_sync.py            # 10,000 runs (takes a minute or two)
    python bench/bench_sync.py --quick    # 2,000 runs

Measures, as whole `ledger` processes (what a user waits for):
1. `ledger pull` of a remote holding N runs into an empty clone;
2. `ledger sync` of a clone that logged 100 new runs while another clone pushed 100 others
   (fetch, a real merge of diverged histories, push), with N runs in the ledger, against the
   same with 100 runs in the ledger. The ratio shows whether the cost follows the change or
   the size of the history.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ENV, PY, fresh_repo, median, prime_bytecode, report, worker

FILL = """
import json, sys, time
from bulk import fill
from ledger.api import Ledger
start = time.perf_counter()
fill(Ledger("."), int(sys.argv[1]), sys.argv[2], group_size=500)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, env=ENV, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def ledger(repo: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([PY, "-m", "ledger.cli", *args], cwd=repo, env=ENV, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def fill(repo: Path, n: int, prefix: str) -> None:
    worker(FILL, repo, str(n), prefix)


def world(size: int) -> tuple[Path, Path, Path]:
    """A bare remote holding `size` runs and two clones that have pulled them."""
    a = fresh_repo("sync-")
    remote = a.parent / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("-C", str(a), "remote", "add", "origin", str(remote))
    fill(a, size, "base")
    ledger(a, "push")
    b = a.parent / "b"
    shutil.copytree(a, b, symlinks=True)
    return remote, a, b


def pull_into_empty(remote: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        empty = fresh_repo("sync-empty-")
        times.append(ledger(empty, "pull", str(remote)))
        shutil.rmtree(empty.parent, ignore_errors=True)
    return median(times)


def sync_new_runs(a: Path, b: Path, i: int) -> float:
    """a and b each log 100 runs; b syncs first, then a's sync is timed (a real merge)."""
    fill(b, 100, f"b{i}")
    ledger(b, "sync")
    fill(a, 100, f"a{i}")
    return ledger(a, "sync")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    big = 2000 if args.quick else 10_000
    repeat = 3 if args.quick else 7
    prime_bytecode()
    rows = [("measure", "ledger", "", "ratio")]

    remote, a, b = world(big)
    rows.append((f"pull {big} runs into an empty clone (whole process)",
                 f"{pull_into_empty(remote, repeat):.2f} s", "", ""))
    _small_remote, sa, sb = world(100)
    small, large = [], []
    for i in range(repeat):  # interleaved, so that a busy machine weighs on both alike
        small.append(sync_new_runs(sa, sb, i))
        large.append(sync_new_runs(a, b, i))
    rows.append((f"sync 100 new runs (diverged, merged): 100 vs {big} runs in ledger",
                 f"{median(small):.2f} / {median(large):.2f} s", "",
                 f"{median(large) / median(small):.2f}x"))
    report(rows)
    for path in (a, sa):
        shutil.rmtree(path.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
