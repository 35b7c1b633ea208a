"""A real scoring server process on 127.0.0.1 for the tests: `ledger model serve` on port 0,
its address read from the line it prints."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, stop_server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The iris model, saved with a signature, served by two workers."""
    pytest.importorskip("sklearn")
    pytest.importorskip("httpx")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import ledger

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    folder = tmp_path_factory.mktemp("served") / "iris"
    model = LogisticRegression(max_iter=500).fit(X, y)
    ledger.sklearn.save_model(model, folder, input_example=X.head(2))
    server = start_server([sys.executable, "-m", "ledger.cli", "model", "serve", str(folder),
                           "--port", "0", "--workers", "2", "--max-body", "100000"],
                          cwd=folder.parent, ready_path="/ping")
    yield server
    stop_server(server)
