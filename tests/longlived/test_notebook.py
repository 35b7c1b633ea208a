"""A real notebook through nbclient and ipykernel: what a notebook user can rely on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_ledger

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = [
    # 1: a run left open while the kernel idles
    "import os, threading, ledger\n"
    "os.environ['LEDGER_FLUSH_SECONDS'] = '0.3'\n"
    "run = ledger.start_run(name='nb')\n"
    "ledger.log_param('lr', 0.1)\n"
    "ledger.log_metric('loss', 1.0)\n",
    # 2: a monitor thread beside the cell's own logging, then the run ends
    "def monitor():\n"
    "    for i in range(3):\n"
    "        ledger.log_metric('gpu', float(i), step=i)\n"
    "t = threading.Thread(target=monitor); t.start(); t.join()\n"
    "ledger.log_metric('loss', 0.5, step=1)\n"
    "ledger.end_run()\n",
    # 3: an exception escaping a run's block
    "try:\n"
    "    with ledger.start_run(name='broken'):\n"
    "        raise ValueError('boom')\n"
    "except ValueError:\n"
    "    pass\n",
    # 4: a sweep with threads
    "from concurrent.futures import ThreadPoolExecutor\n"
    "with ledger.start_run(name='sweep') as parent:\n"
    "    def trial(i):\n"
    "        with ledger.start_run(nested=True, parent_run_id=parent.id, name=f'trial-{i}'):\n"
    "            ledger.log_metric('score', float(i))\n"
    "    with ThreadPoolExecutor(3) as pool:\n"
    "        list(pool.map(trial, range(3)))\n",
]


def runs(repo: Path) -> dict[str, dict]:
    out = run_ledger("runs", "--format", "json", cwd=repo)
    return {r["name"]: r for r in json.loads(out.out or "[]")}


@pytest.mark.slow
def test_a_notebook_session(repo: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(repo)}})
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        deadline = time.monotonic() + 60
        while "nb" not in runs(repo) and time.monotonic() < deadline:
            time.sleep(0.2)  # the kernel is idle: only the flush thread can commit
        live = runs(repo)["nb"]
        assert live["status"] == "RUNNING" and live["params"] == {"lr": "0.1"}
        assert live["metrics"] == {"loss": 1.0}
        for index in range(1, len(CELLS)):
            client.execute_cell(nb.cells[index], index)
    found = runs(repo)
    assert found["nb"]["status"] == "FINISHED" and found["nb"]["metrics"] == {"loss": 0.5}
    assert found["broken"]["status"] == "FAILED"
    parent = found["sweep"]
    for i in range(3):
        trial = found[f"trial-{i}"]
        assert trial["tags"]["ledger.parent_run_id"] == parent["id"]
        assert trial["metrics"] == {"score": float(i)} and trial["status"] == "FINISHED"
    monitor = [r for r in found.values() if "gpu" in r["metrics"]]
    assert len(monitor) == 1 and monitor[0]["status"] == "FINISHED"  # ended at kernel exit
    assert monitor[0]["id"] != found["nb"]["id"]
