"""Fixtures for the MLflow compatibility tests: scripts run in real processes, and a check
that the `ledger` plugin is registered with MLflow (pip install -e '.[test]')."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def plugin_registered() -> bool:
    found = [ep for ep in entry_points(group="mlflow.tracking_store") if ep.name == "ledger"]
    return bool(found)


needs_plugin = pytest.mark.skipif(
    not plugin_registered(),
    reason="the ledger MLflow plugin is not registered: pip install -e '.[test]'")


def run_script(repo: Path, source: str, env: dict[str, str] | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a Python script in `repo` (a file named like MLflow's examples)."""
    script = repo / "example.py"
    script.write_text(textwrap.dedent(source))
    full = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "MLFLOW_TRACKING_URI": "", **(env or {})}
    if not full["MLFLOW_TRACKING_URI"]:
        del full["MLFLOW_TRACKING_URI"]
    proc = subprocess.run([sys.executable, str(script)], cwd=repo, capture_output=True,
                          text=True, env=full, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
