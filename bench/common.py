"""Helpers shared by the benchmarks: temp git repos, timed subprocesses, the report table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV.update(GIT_CONFIG_NOSYSTEM="1", MLFLOW_ALLOW_FILE_STORE="true",
           GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
           GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
# the workers import bench/bulk.py
ENV["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parent),
                                                os.environ.get("PYTHONPATH")) if p)


# Outside the checkout: tools that watch a work tree (editors, sandboxes) can make file
# creation below it many times slower, which would measure the watcher, not the ledger.
OUT = Path(os.environ.get("LEDGER_BENCH_DIR") or Path.home() / ".cache" / "ledger-bench")


def fresh_repo(prefix: str = "bench-") -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=OUT)) / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "train.py").write_text("print('train')\n")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True, env=ENV)
    return path


def timed_process(args: list[str], cwd: Path, repeat: int) -> list[float]:
    """Wall time of a whole process, `repeat` times."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return out


def worker(code: str, cwd: Path, *args: str) -> dict:
    """Run a measuring snippet in its own interpreter; it prints one JSON object."""
    proc = subprocess.run([PY, "-c", code, *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(rows: list[tuple[str, str, str, str]]) -> None:
    """rows: (measure, ledger, anchor, ratio)."""
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


# the median milliseconds of `n` calls after one warm-up, for worker scripts (paste first)
TIMER = """
import statistics, time
def t(fn, n=3):
    fn()
    out = []
    for _ in range(n):
        s = time.perf_counter(); fn(); out.append(time.perf_counter() - s)
    return statistics.median(out) * 1000
"""


def prime_bytecode() -> None:
    """Compile the ledger's and its dependencies' bytecode once, as an installed package has."""
    subprocess.run([PY, "-m", "compileall", "-q", str(Path(__file__).parent.parent / "ledger")],
                   env=ENV, stdout=subprocess.DEVNULL)
    subprocess.run([PY, "-c", "import ledger.cli, ledger.api, mlflow"], env=ENV,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# MLflow's fastest path for many runs: one log_batch per run (20 params, 5 metrics x 10 steps,
# 3 tags), on the tracking URI argv[1], argv[2] runs; prints seconds and the experiment id.
MLFLOW_LOG_BATCH = """
import json, sys, time, mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
exp = client.create_experiment("bench")
n = int(sys.argv[2])
start = time.perf_counter()
for r in range(n):
    run = client.create_run(exp, run_name=f"run-{r}")
    ts = int(time.time() * 1000)
    client.log_batch(run.info.run_id,
        metrics=[Metric(f"m{m}", ((r * 7919 + m) % 1000) / 1000 / (s + 1), ts, s)
                 for s in range(10) for m in range(5)],
        params=[Param(f"p{i}", str((i * r) % 11)) for i in range(20)],
        tags=[RunTag("a", "x"), RunTag("b", str(r % 7)), RunTag("c", "z")])
    client.set_terminated(run.info.run_id)
print(json.dumps({"seconds": time.perf_counter() - start, "experiment": exp}))
"""


def _create_latency(folder: Path, n: int = 100) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i in range(n):
        (folder / f"probe{i}").write_bytes(b"x" * 200)
    elapsed = (time.perf_counter() - start) / n
    for i in range(n):
        (folder / f"probe{i}").unlink()
    folder.rmdir()
    return elapsed


def settle(repo: Path, limit: float = 120.0) -> float:
    """Wait until creating files in the repository's object store is as fast as in a fresh
    folder again: right after a bulk load the file system is still writing it back, which
    would be measured as the ledger's cost. Returns the seconds waited."""
    os.sync()
    baseline = _create_latency(OUT / f"probe-{os.getpid()}")
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if _create_latency(repo / ".git" / "objects" / "probe") <= 1.5 * baseline:
            break
        time.sleep(2)
    return time.perf_counter() - start
