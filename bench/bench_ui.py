"""Issue 13 benchmark: `ledger ui` against `mlflow ui` (sqlite) in the same headless Chromium.

    pip install -e '.[bench,ui,test]'      # mlflow, the UI's stack, playwright
    python bench/bench_ui.py               # 10,000 runs in one experiment; 50 runs x 10,000 points
    python bench/bench_ui.py --quick       # 2,000 runs; 20 runs x 10,000 points
    python bench/bench_ui.py --no-mlflow   # the ledger's figures only
    python bench/bench_ui.py --reuse DIR   # measure again on the stores an earlier run filled

Measured, for each tool, from the browser's side (Playwright, Debian's chromium):
  start      process start -> the first page loaded in the browser
  rows       navigation to the runs page -> its first rows visible (first visit, then warm)
  filter     Enter in the filter box -> the table shows the filtered runs
  chart      navigation -> a chart of 50 runs x 10,000 points drawn
Runs have 20 params, 5 metrics x 10 steps and 3 tags, as in the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).parent))
from common import ENV, MLFLOW_LOG_BATCH, PY, fresh_repo, median, prime_bytecode, report, worker

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FILTER = "params.p1 = '3'"  # 909 of 10,000 runs; the newest (run-9999; run-1999) is not one

FILL_LEDGER = """
import json, sys, time
from bulk import fill
from ledger.api import Ledger
from ledger.runs.store import Update
lg = Ledger(".")
n, curves, points = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
ids = []
for c in range(curves):  # the chart's runs: one metric of `points` steps each
    rec, files = lg._new_record("curves", f"curve-{c}", {}, {"c": c}, ["bench"])
    rec.finish("FINISHED", rec.start_time + 1, (rec.start_time, 1))
    pts = [("loss", s, rec.start_time + s, (c + 1) / (s + 1) + (s % 97) / 5000)
           for s in range(points)]
    lg.store.commit([Update(rec.id, (lambda x: lambda cur: x)(rec), points=pts, compact=True,
                            files=files, event="finished")])
    ids.append(rec.id)
fill(lg, n, experiments=1)
lg.search_runs(max_results=1)  # the snapshot, as after any ledger command
print(json.dumps({"seconds": time.perf_counter() - start, "curves": ids}))
"""

MLFLOW_CURVES = """
import json, sys, time, mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
exp = client.create_experiment("curves")
curves, points = int(sys.argv[2]), int(sys.argv[3])
ids = []
for c in range(curves):
    run = client.create_run(exp, run_name=f"curve-{c}")
    ts = int(time.time() * 1000)
    ms = [Metric("loss", (c + 1) / (s + 1) + (s % 97) / 5000, ts + s, s) for s in range(points)]
    for i in range(0, len(ms), 1000):
        client.log_batch(run.info.run_id, metrics=ms[i:i + 1000])
    client.set_terminated(run.info.run_id)
    ids.append(run.info.run_id)
print(json.dumps({"experiment": exp, "curves": ids}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, limit: float = 600) -> None:
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer in {limit} s")


class Tool:
    """A UI under test: how to start it and where its pages are."""

    name = ""

    def __init__(self, cwd: Path, newest: str) -> None:
        self.cwd = cwd
        self.newest = newest  # the name of the newest run: the first row of the runs page
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, page: Any) -> float:
        """Seconds from process start to the first page loaded in the browser."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=ENV,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.base + "/", self.proc)
        page.goto(self.base + "/", wait_until="load")
        return time.perf_counter() - t0

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class LedgerUi(Tool):
    name = "ledger ui"

    @property
    def rows_selector(self) -> str:
        return f"#runs tbody tr >> text={self.newest}"

    def command(self) -> list[str]:
        return [PY, "-m", "ledger.cli", "ui", "--port", str(self.port)]

    def runs_url(self) -> str:
        return self.base + "/runs?experiment=exp0"

    def filter(self, page: Any) -> None:
        page.fill("#where", FILTER)
        page.press("#where", "Enter")

    def chart_url(self, ids: list[str]) -> str:
        return f"{self.base}/chart?runs={','.join(ids)}&key=loss"

    def chart_drawn(self, page: Any, n: int) -> None:
        page.wait_for_selector(f".chart-panel[data-drawn='{n}']", timeout=600_000)


class MlflowUi(Tool):
    name = "mlflow ui"

    @property
    def rows_selector(self) -> str:
        return f"text={self.newest}"

    def __init__(self, cwd: Path, newest: str, db: str, experiment: str,
                 curves_experiment: str) -> None:
        super().__init__(cwd, newest)
        self.db, self.experiment, self.curves_experiment = db, experiment, curves_experiment

    def command(self) -> list[str]:
        return [str(Path(PY).parent / "mlflow"), "ui", "--backend-store-uri", self.db,
                "--port", str(self.port), "--host", "127.0.0.1"]

    def runs_url(self) -> str:
        return f"{self.base}/#/experiments/{self.experiment}/runs"

    def filter(self, page: Any) -> None:
        box = page.locator("input[placeholder*='metrics.']").first
        box.fill(FILTER)
        box.press("Enter")

    def chart_url(self, ids: list[str]) -> str:
        # the address MLflow's own "compare runs -> metric" link builds (Routes.getMetricPageRoute)
        return (f"{self.base}/#/metric?runs={json.dumps(ids)}&metric={quote(json.dumps('loss'))}"
                f"&experiments={json.dumps([self.curves_experiment])}"
                f"&plot_metric_keys={quote(json.dumps(['loss']))}&plot_layout={{}}&x_axis=step"
                "&y_axis_scale=linear&line_smoothness=1&show_point=false&deselected_curves=[]"
                "&last_linear_y_axis_range=[]")

    def chart_drawn(self, page: Any, n: int) -> None:
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= {n}",
            timeout=600_000)


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(tool: Any, page: Any, curves: list[str], repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    page.set_default_timeout(600_000)  # a loaded machine: report slow, never give up early
    try:
        out["start"] = tool.start(page)

        def rows() -> None:
            page.goto("about:blank")
            t0 = time.perf_counter()
            page.goto(tool.runs_url(), wait_until="commit")
            page.wait_for_selector(tool.rows_selector, timeout=600_000)
            out.setdefault("_rows", []).append(time.perf_counter() - t0)  # type: ignore[union-attr]

        for _ in range(repeat + 1):
            rows()
        firsts: list[float] = out.pop("_rows")  # type: ignore[assignment]
        out["rows_first"], out["rows"] = firsts[0], median(firsts[1:])

        filters = []
        for _ in range(repeat):
            page.goto(tool.runs_url())
            page.wait_for_selector(tool.rows_selector, timeout=600_000)

            def apply() -> None:
                tool.filter(page)
                page.wait_for_selector(tool.rows_selector, state="detached", timeout=600_000)

            filters.append(timed(apply))
        out["filter"] = median(filters)

        charts = []
        for _ in range(repeat if curves else 0):
            page.goto("about:blank")
            charts.append(timed(lambda: (page.goto(tool.chart_url(curves), wait_until="commit"),
                                         tool.chart_drawn(page, len(curves)))))
        if charts:
            out["chart"] = median(charts)
    except Exception as exc:  # report what was measured; say what failed
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"  # type: ignore
    finally:
        tool.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", metavar="DIR", help="the stores an earlier run filled")
    opts = parser.parse_args()
    n, curves, points = (2_000, 20, 10_000) if opts.quick else (10_000, 50, 10_000)
    from playwright.sync_api import sync_playwright

    prime_bytecode()
    saved = Path(opts.reuse) / "filled.json" if opts.reuse else None
    if saved is not None and saved.exists():  # the stores of an earlier run, as they were
        state = json.loads(saved.read_text())
    else:
        repo = fresh_repo("bench-ui-")
        print(f"filling the ledger: {n} runs in one experiment, {curves} runs x {points} "
              "points", file=sys.stderr)
        state = {"repo": str(repo), "n": n,
                 "ledger": worker(FILL_LEDGER, repo, str(n), str(curves), str(points))}
        if not opts.no_mlflow:
            print("filling MLflow (sqlite): the same runs", file=sys.stderr)
            db = f"sqlite:///{repo.parent / 'mlflow.db'}"
            state["db"] = db
            state["mlflow"] = worker(MLFLOW_LOG_BATCH, repo.parent, db, str(n))
            state["mlflow_curves"] = worker(MLFLOW_CURVES, repo.parent, db, str(curves),
                                            str(points))
        (repo.parent / "filled.json").write_text(json.dumps(state))
        print(f"(stores kept in {repo.parent}: --reuse {repo.parent})", file=sys.stderr)
    repo, n = Path(state["repo"]), state["n"]
    newest = f"run-{n - 1}"
    tools: list[tuple[Tool, list[str]]] = [(LedgerUi(repo, newest), state["ledger"]["curves"])]
    if not opts.no_mlflow:
        curved = state.get("mlflow_curves") or {"experiment": "", "curves": []}
        # a fill cut short ("runs" in the state) has fewer runs; its page shows the newest first
        ml_newest = f"run-{state['mlflow'].get('runs', n) - 1}"
        tools.append((MlflowUi(repo.parent, ml_newest, state["db"], state["mlflow"]["experiment"],
                               curved["experiment"]), curved["curves"]))
    results = {}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        for tool, ids in tools:
            folder = f"{profile}/{re.sub(r'[^a-z]', '', tool.name)}"
            context = p.chromium.launch_persistent_context(
                folder, executable_path=CHROMIUM,
                args=ARGS, headless=True, viewport={"width": 1400, "height": 900})
            results[tool.name] = measure(tool, context.new_page(), ids, opts.repeat)
            context.close()
    show(results, n, len(tools[0][1]), points)
    if state.get("mlflow", {}).get("runs"):
        print(f"(MLflow's store holds {state['mlflow']['runs']} runs: its fill was cut short)")


def show(results: dict[str, dict[str, float]], n: int, curves: int, points: int) -> None:
    lg = results.get("ledger ui", {})
    ml = results.get("mlflow ui", {})
    labels = {"start": "server start -> first page", "rows_first": f"runs page, {n} runs: "
              "first rows (first visit)", "rows": f"runs page, {n} runs: first rows (warm)",
              "filter": "filter applied", "chart": f"chart {curves} runs x {points} points"}
    rows = [("measure (browser, seconds)", "ledger ui", "mlflow ui", "mlflow / ledger")]
    for key, label in labels.items():
        a, b = lg.get(key), ml.get(key)
        rows.append((label, f"{a:.3f}" if a is not None else "-",
                     f"{b:.3f}" if b is not None else "-",
                     f"{b / a:.1f}x" if a and b else "-"))
    report(rows)
    for name, found in results.items():
        if "error" in found:
            print(f"{name}: stopped early: {found['error']}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "")
    main()
