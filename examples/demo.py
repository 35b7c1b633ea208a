"""End-to-end demo: a fresh git repository, three training runs, and the ledger's views of them.

Run it with `.venv/bin/python examples/demo.py` (the README's first command does).
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path


def sh(*args: str, cwd: Path) -> None:
    print(f"\n$ {' '.join(args)}", flush=True)
    subprocess.run(args, cwd=cwd, check=True)


def ledger_cmd(*args: str, cwd: Path) -> None:
    print(f"\n$ ledger {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "ledger.cli", *args], cwd=cwd, check=True)


def train(lr: float, epochs: int, data: Path) -> None:
    """A tiny logistic regression on synthetic points, logged with the Python API."""
    import ledger

    rows = [tuple(map(float, line.split(","))) for line in data.read_text().splitlines()[1:]]
    w0 = w1 = 0.0
    with ledger.start_run(experiment="demo", name=f"logreg-lr{lr}",
                          tags={"model": "logreg"}) as run:
        ledger.log_params({"lr": lr, "epochs": epochs})
        ledger.log_input(str(data), context="training")
        for epoch in range(epochs):
            loss = 0.0
            correct = 0
            for x, y in rows:
                p = 1 / (1 + math.exp(-(w0 + w1 * x)))
                loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
                correct += (p > 0.5) == (y > 0.5)
                w0 -= lr * (p - y)
                w1 -= lr * (p - y) * x
            ledger.log_metrics({"loss": loss / len(rows), "acc": correct / len(rows)},
                               step=epoch)
        ledger.log_dict({"w0": w0, "w1": w1}, "model/weights.json")
    print(f"run {run.id}: lr={lr} acc={correct / len(rows):.3f}")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ledger-demo-"))
    repo = folder / "project"
    repo.mkdir()
    env_git = ["-c", "user.name=Demo", "-c", "user.email=demo@example.com"]
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    rnd = random.Random(0)
    points = [(x, 1.0 if x + rnd.gauss(0, 0.5) > 0 else 0.0)
              for x in (rnd.uniform(-3, 3) for _ in range(200))]
    (repo / "data.csv").write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in points))
    (repo / "train.py").write_text("# the training code lives in examples/demo.py\n")
    sh("git", *env_git, "add", ".", cwd=repo)
    sh("git", *env_git, "commit", "-qm", "data and code", cwd=repo)
    os.chdir(repo)
    os.environ["LEDGER_REPO"] = str(repo)
    for var, value in (("GIT_AUTHOR_NAME", "Demo"), ("GIT_AUTHOR_EMAIL", "demo@example.com"),
                       ("GIT_COMMITTER_NAME", "Demo"), ("GIT_COMMITTER_EMAIL", "demo@example.com")):
        os.environ.setdefault(var, value)  # a fresh machine may have no git identity
    for lr in (0.01, 0.1, 0.5):
        train(lr, epochs=20, data=repo / "data.csv")
    ledger_cmd("log", "-e", "demo", "-n", "from-the-shell", "-p", "lr=1.0", "-m", "acc=0.5",
               cwd=repo)
    ledger_cmd("runs", "--format", "table", cwd=repo)
    ledger_cmd("experiments", "--format", "table", cwd=repo)
    import ledger

    best = ledger.Ledger(repo).list_runs(experiment="demo")
    best = sorted((r for r in best if "acc" in r.metrics), key=lambda r: -r.metrics["acc"])
    ledger_cmd("show", best[0].id, "--format", "table", cwd=repo)
    ledger_cmd("diff", best[0].id, best[-1].id, "--format", "table", cwd=repo)
    ledger_cmd("metrics", best[0].id, "acc", "--format", "csv", cwd=repo)
    ledger_cmd("model", "register", "logreg", "--run", best[0].id, "--path", "model", cwd=repo)
    ledger_cmd("model", "promote", "logreg", "v0.0.1", "production", cwd=repo)
    ledger_cmd("model", "show", "logreg", "--format", "table", cwd=repo)
    ledger_cmd("model", "get", "logreg#production", "-o", str(folder / "served"), cwd=repo)
    sh("git", "tag", "--list", cwd=repo)
    remote = folder / "remote.git"
    sh("git", "init", "-q", "--bare", str(remote), cwd=folder)
    ledger_cmd("push", str(remote), cwd=repo)
    sh("git", "log", "--oneline", "refs/ledger/runs", cwd=repo)
    sh("git", "status", "--short", cwd=repo)
    sh("git", "fsck", "--strict", cwd=repo)
    print(f"\nThe demo repository is at {repo}; try `cd {repo} && ledger runs`.")


if __name__ == "__main__":
    main()
