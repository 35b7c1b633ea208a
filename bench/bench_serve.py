"""Issue 12 benchmark: the scoring server side by side with `mlflow models serve --env-manager
local`, on the same sklearn model folder and the same worker count; and `ledger model predict`
on a 1M-row CSV (peak memory).

    python bench/bench_serve.py                 # 2 workers, 8 clients, 10 s per measure
    python bench/bench_serve.py --quick         # 3 s per measure, 200k rows for predict

Measures, for each server: time from start to the first 200 on /ping; one-row and 1,000-row
`/invocations` (dataframe_split JSON) throughput and p99 latency with 8 concurrent clients on
keep-alive connections. The clients run in this process (threads), so both servers share the
2 cores with the same load generator. The ledger measured is this checkout's (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ENV, OUT, PY, report

ROOT = Path(__file__).resolve().parent.parent
ENV["PYTHONPATH"] = str(ROOT)
# mlflow starts `uvicorn` by name: the interpreter's own scripts first
ENV["PATH"] = os.pathsep.join([str(Path(PY).parent), ENV.get("PATH", "")])
MLFLOW = shutil.which("mlflow", path=str(Path(PY).parent)) or shutil.which("mlflow")
COLUMNS = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"]

MAKE_MODEL = """
import sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
import ledger
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(5000, 8)), columns=[f"f{i}" for i in range(8)])
y = (X["f0"] + X["f1"] * 2 > 0).astype(int)
ledger.sklearn.save_model(LogisticRegression().fit(X, y), sys.argv[1], input_example=X.head(2))
"""

MAKE_CSV = """
import sys
import numpy as np, pandas as pd
rng = np.random.default_rng(1)
rows = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        pd.DataFrame(rng.normal(size=(n, 8)), columns=[f"f{i}" for i in range(8)]).to_csv(
            f, header=start == 0, index=False)
"""

PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start a server; the seconds until /ping first answers 200."""
    begin = time.perf_counter()
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{args[:3]} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return proc, time.perf_counter() - begin
        except OSError:
            time.sleep(0.01)


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def body(rows: int) -> bytes:
    data = [[(i * 7 + j) % 13 / 3.0 - 2 for j in range(8)] for i in range(rows)]
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": data}}).encode()


def load(port: int, payload: bytes, seconds: float, clients: int = 8) -> tuple[float, float]:
    """Requests per second and p99 latency (ms) of `clients` keep-alive clients."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = []
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json"}

    def client(mine: list[float]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            conn.request("POST", "/invocations", payload, headers)
            response = response_of(conn)
            if response != 200:
                failures.append(response)
                return
            mine.append(time.perf_counter() - t0)
        conn.close()

    begin = time.perf_counter()
    threads = [threading.Thread(target=client, args=(lat,)) for lat in latencies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begin
    if failures:
        raise RuntimeError(f"requests failed: {failures[:3]}")
    every = sorted(x for lat in latencies for x in lat)
    return len(every) / elapsed, every[int(len(every) * 0.99) - 1] * 1000


def response_of(conn: http.client.HTTPConnection) -> int:
    response = conn.getresponse()
    response.read()
    return response.status


def measure_server(name: str, args: list[str], port: int, seconds: float
                   ) -> dict[str, float]:
    proc, ping = start(args, port)
    try:
        load(port, body(1), min(seconds, 1.0))  # warm-up
        one = load(port, body(1), seconds)
        thousand = load(port, body(1000), seconds)
    finally:
        stop(proc)
    return {"ping": ping, "one_rps": one[0], "one_p99": one[1], "k_rps": thousand[0],
            "k_p99": thousand[1]}


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    begin = time.perf_counter()
    proc = subprocess.run([PY, "-c", PEAK_RSS, *args], env=ENV, capture_output=True, text=True,
                          check=True)
    return int(proc.stdout.strip().splitlines()[-1]) / 1024, time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rows", type=int, default=None, help="rows for the predict measure")
    opts = parser.parse_args()
    seconds = opts.seconds or (3.0 if opts.quick else 10.0)
    rows = opts.rows or (200_000 if opts.quick else 1_000_000)
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-serve-", dir=OUT))
    model = work / "model"
    subprocess.run([PY, "-c", MAKE_MODEL, str(model)], env=ENV, check=True)
    workers = str(opts.workers)

    port = free_port()
    ours = measure_server("ledger", [PY, "-m", "ledger.cli", "model", "serve", str(model),
                                     "--port", str(port), "--workers", workers], port, seconds)
    theirs: dict[str, float] | None = None
    if MLFLOW:
        port = free_port()
        theirs = measure_server("mlflow", [MLFLOW, "models", "serve", "-m", str(model),
                                           "--env-manager", "local", "-p", str(port), "-w",
                                           workers], port, seconds)

    csv = work / "big.csv"
    subprocess.run([PY, "-c", MAKE_CSV, str(csv), str(rows)], env=ENV, check=True)
    rss, took = peak_rss_mb([PY, "-m", "ledger.cli", "model", "predict", str(model), "-i",
                             str(csv), "-o", str(work / "out.csv")])

    def row(label: str, key: str, fmt: str, better: str) -> tuple[str, str, str, str]:
        mine = ours[key]
        other = theirs[key] if theirs else float("nan")
        ratio = (other / mine if better == "lower" else mine / other) if theirs else float("nan")
        return (label, fmt.format(mine), fmt.format(other), f"{ratio:.2f}x")

    print(f"\nscoring server, {workers} workers, 8 clients, {seconds:.0f} s per measure "
          "(ratio: how many times better the ledger is)")
    report([
        ("measure", "ledger", "mlflow", "ratio"),
        row("first 200 on /ping (s)", "ping", "{:.2f}", "lower"),
        row("1-row requests/s", "one_rps", "{:.0f}", "higher"),
        row("1-row p99 (ms)", "one_p99", "{:.1f}", "lower"),
        row("1,000-row requests/s", "k_rps", "{:.1f}", "higher"),
        row("1,000-row p99 (ms)", "k_p99", "{:.1f}", "lower"),
    ])
    print(f"\nledger model predict, {rows:,} rows CSV -> CSV: peak RSS {rss:.0f} MB, "
          f"{took:.1f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
