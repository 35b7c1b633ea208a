"""Issue 14 benchmark: large files off git, and the overhead of `ledger reproduce`.

    python bench/bench_storage.py            # a 1 GB artifact, a 100 MB repository
    python bench/bench_storage.py --quick    # 200 MB and 20 MB

1. A large artifact logged into a folder store (`[storage] url = <folder>`): wall time and
   peak memory of the logging process, against `cp` of the same file (and MLflow's
   `log_artifact` into a file store, side by side). Then the same file read back verified.
2. 1,000 small files logged with a store configured: they stay in git (no store round trip),
   against the same with no store.
3. `ledger reproduce` of a dirty run in a repository holding 100 MB of files: its wall time
   against `ledger exec` of the same command (the run itself); the difference is the
   overhead of the worktree, the patch and the comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ENV, OUT, PY, fresh_repo, median, prime_bytecode, report, worker

ROUNDS = 5

LOG_BIG = """
import json, resource, sys, time
from ledger.api import Ledger
lg = Ledger(".")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
rid = lg.log_run(artifacts=[(sys.argv[1], None)])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "base_mb": base / 1024,
                  "run": rid}))
"""

READ_BIG = """
import json, resource, sys, time
from pathlib import Path
from ledger.api import Ledger
from ledger.storage.offload import write_file
lg = Ledger(".")
rid, name, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
tree = lg.store.folder_tree(lg.store.root(lg.store.head()), rid)
entry = lg.store.objects.lookup(tree, "artifacts/" + name)
start = time.perf_counter()
write_file(lg.gitdir, lg.store.objects.blob_bytes(entry[1]), out)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024}))
"""

MLFLOW_ARTIFACT = """
import json, sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run():
    start = time.perf_counter()
    mlflow.log_artifact(sys.argv[2])
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds}))
"""

LOG_MANY = """
import json, sys, time
from ledger.api import Ledger
lg = Ledger(".")
start = time.perf_counter()
lg.log_run(artifacts=[(sys.argv[1], "many")])
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def make_file(path: Path, size: int) -> None:
    chunk = os.urandom(8 << 20)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def cp_seconds(src: Path, dst: Path, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        dst.unlink(missing_ok=True)
        start = time.perf_counter()
        subprocess.run(["cp", str(src), str(dst)], check=True)
        times.append(time.perf_counter() - start)
    dst.unlink(missing_ok=True)
    return median(times)


def big_artifact(size: int, rows: list[tuple[str, str, str, str]]) -> None:
    repo = fresh_repo("bench-storage-")
    store = repo.parent / "store"
    (repo / "ledger.toml").write_text(f'[storage]\nurl = "{store}"\n')
    src = repo.parent / "big.bin"
    make_file(src, size)
    mb = size / 2**20
    # cp, the ledger's write and its verified read alternate, each after a sync, so that none
    # pays for another's write-back; on a shared machine the load drifts, so each round gives
    # its own ratios and the report shows their medians
    cps, logs, cp_backs, reads = [], [], [], []
    for _ in range(ROUNDS):
        os.sync()
        cps.append(cp_seconds(src, repo.parent / "copy.bin", repeat=1))
        shutil.rmtree(store, ignore_errors=True)
        os.sync()
        logs.append(worker(LOG_BIG, repo, str(src)))
        # the read's anchor: cp of the same stored object (a file just written reads back
        # slower than an old one here, for cp as for the ledger)
        [stored] = [p for p in store.rglob("*") if p.is_file()]
        os.sync()
        cp_backs.append(cp_seconds(stored, repo.parent / "copy.bin", repeat=1))
        os.sync()
        reads.append(worker(READ_BIG, repo, logs[-1]["run"], src.name,
                            str(repo.parent / "back.bin")))
        (repo.parent / "back.bin").unlink()
    log_s = median([r["seconds"] for r in logs])
    read_s = median([r["seconds"] for r in reads])
    rows.append((f"log {mb:.0f} MB to a folder store (MB/s)", f"{mb / log_s:.0f}",
                 f"cp {mb / median(cps):.0f}",
                 f"{median([c / r['seconds'] for c, r in zip(cps, logs)]):.0%} of cp"))
    rows.append(("  peak RSS of the logging process (MB)",
                 f"{max(r['peak_mb'] for r in logs):.0f}",
                 f"after imports {logs[0]['base_mb']:.0f}",
                 f"+{max(r['peak_mb'] - r['base_mb'] for r in logs):.0f} MB"))
    rows.append((f"read {mb:.0f} MB back, verified (MB/s)", f"{mb / read_s:.0f}",
                 f"cp {mb / median(cp_backs):.0f}",
                 f"{median([c / r['seconds'] for c, r in zip(cp_backs, reads)]):.0%} of cp"))
    rows.append(("  peak RSS of the reading process (MB)",
                 f"{max(r['peak_mb'] for r in reads):.0f}", "", ""))
    try:
        mlflow = worker(MLFLOW_ARTIFACT, repo.parent,
                        f"file://{repo.parent / 'mlruns'}", str(src))
        rows.append(("MLflow log_artifact, file store (MB/s)", f"{mb / log_s:.0f}",
                     f"mlflow {mb / mlflow['seconds']:.0f}",
                     f"{mlflow['seconds'] / log_s:.2f}x faster"))
    except RuntimeError as exc:
        rows.append(("MLflow log_artifact", "", f"failed: {str(exc)[-60:]}", ""))
    shutil.rmtree(repo.parent, ignore_errors=True)


def small_files(rows: list[tuple[str, str, str, str]]) -> None:
    timings = {}
    for configured in (True, False):
        repo = fresh_repo("bench-small-")
        if configured:
            (repo / "ledger.toml").write_text(f'[storage]\nurl = "{repo.parent / "store"}"\n')
        many = repo.parent / "many"
        many.mkdir()
        for i in range(1000):
            (many / f"f{i:04d}.txt").write_text(f"file {i}\n" * 20)
        timings[configured] = worker(LOG_MANY, repo, str(many))["seconds"]
        if configured:
            assert not (repo.parent / "store").exists(), "small files reached the store"
        shutil.rmtree(repo.parent, ignore_errors=True)
    rows.append(("1,000 small files, store configured (s)", f"{timings[True]:.3f}",
                 f"no store {timings[False]:.3f}", f"{timings[True] / timings[False]:.2f}x"))


def reproduce_overhead(size: int, rows: list[tuple[str, str, str, str]]) -> None:
    repo = fresh_repo("bench-repro-")
    data = repo / "data"
    data.mkdir()
    for i in range(max(1, size // (1 << 20))):
        make_file(data / f"part{i:04d}.bin", 1 << 20)
    (repo / "train.py").write_text("import ledger\nledger.log_metric('acc', 0.5)\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=ENV)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "data"], check=True, env=ENV)
    (repo / "train.py").write_text("import ledger\nledger.log_metric('acc', 0.75)\n")  # dirty
    cli = [PY, "-m", "ledger.cli"]
    execs, repros = [], []
    rid = ""
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run([*cli, "exec", "--", PY, "train.py"], cwd=repo, env=ENV,
                              capture_output=True, text=True, check=True)
        execs.append(time.perf_counter() - start)
        rid = done.stderr.strip().splitlines()[-1]
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([*cli, "reproduce", rid, "--format", "json"], cwd=repo, env=ENV,
                       capture_output=True, check=True)
        repros.append(time.perf_counter() - start)
    checkouts = []
    for _ in range(3):  # the part of the overhead that is git's: check out, then remove
        tree = repo.parent / "wt"
        start = time.perf_counter()
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "-q", str(tree),
                        "HEAD"], check=True, env=ENV)
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                       check=True, env=ENV)
        checkouts.append(time.perf_counter() - start)
    mb = size / 2**20
    overhead = median(repros) - median(execs)
    rows.append((f"reproduce a dirty run, {mb:.0f} MB repository (s)", f"{median(repros):.2f}",
                 f"exec {median(execs):.2f}", f"+{overhead:.2f} s"))
    rows.append(("  of which git worktree add + remove (s)", f"{median(checkouts):.2f}", "",
                 ""))
    shutil.rmtree(repo.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    big, repo_size = (200 << 20, 20 << 20) if args.quick else (1 << 30, 100 << 20)
    prime_bytecode()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = [("measure", "ledger", "anchor", "ratio")]
    big_artifact(big, rows)
    small_files(rows)
    reproduce_overhead(repo_size, rows)
    report(rows)


if __name__ == "__main__":
    main()
