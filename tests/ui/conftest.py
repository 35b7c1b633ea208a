"""A repository with runs of every kind the UI shows (params, metric curves, a dirty patch,
inputs, artifacts of each preview kind, an XSS payload in a name and tags, a deleted run, a
registered and promoted model), built once per worker, and `ledger ui` servers over it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Server, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent.parent
XSS_NAME = '<img src=x onerror="alert(1)">'
XSS_TAG = '<script>alert("tag")</script>'

POPULATE = r'''
import io, json, sys, zlib, struct
import pyarrow as pa, pyarrow.parquet as pq
import ledger
from ledger.api import Ledger

lg = Ledger(".")
ids = {}

def png(w, h):
    raw = b"".join(b"\x00" + bytes([200, 30, 30]) * w for _ in range(h))
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

buf = io.BytesIO()
pq.write_table(pa.table({"feature": ["alpha", "beta", "gamma"], "weight": [0.5, 1.5, 2.5]}), buf)
open("train.py", "a").write("# tuned by hand\n")  # a dirty tree: the run keeps the patch
open("data.csv", "w").write("x,y\n1,2\n")
with lg.start_run(experiment="vision", name="baseline", tags={"team": "vision"},
                  params={"lr": "0.1", "model": "tree"}) as run:
    for step in range(300):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("acc", step / 300, step=step)
    run.log_input("data.csv")
    run.log_text("hello from the notes file\nsecond line\n", "notes.txt")
    run.log_dict({"layers": [64, 32], "dropout": 0.1}, "config.json")
    run.log_text("epoch,loss\n1,0.9\n2,0.5\n", "history.csv")
    for name, data in (("features.parquet", buf.getvalue()), ("plot.png", png(8, 6))):
        with open(name, "wb") as out:
            out.write(data)
        run.log_artifact(name)
    run.log_text("<html><script>alert('artifact')</script>page</html>", "report.html")
    run.log_text("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(2)'></svg>", "fig.svg")
    ids["baseline"] = run.id
for i, lr in enumerate(["0.01", "0.02", "0.03", "0.04"]):
    with lg.start_run(experiment="vision", name=f"sweep-{i}", params={"lr": lr, "model": "mlp"},
                      tags={"team": "vision"}) as run:
        for step in range(50):
            run.log_metric("loss", (i + 1) / (step + 2), step=step)
        run.log_metric("acc", 0.5 + i / 10, step=50)
        ids[f"sweep-{i}"] = run.id
with lg.start_run(experiment="nlp", name=sys.argv[1], tags={"xss": sys.argv[2]},
                  params={"note": sys.argv[2]}) as run:
    run.log_metric("acc", 0.42)
    ids["xss"] = run.id
with lg.start_run(experiment="nlp", name="discarded") as run:
    run.log_metric("acc", 0.1)
    ids["deleted"] = run.id
lg.delete_run(ids["deleted"])
ledger.register_model("iris", ids["baseline"], repo=lg)
ledger.promote_model("iris", "v0.0.1", "staging", sign=True, repo=lg)
ledger.promote_model("iris", "v0.0.1", "production", sign=False, repo=lg)
print(json.dumps(ids))
'''


def env_for(home: Path) -> dict[str, str]:
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Alice Tester\n\temail = alice@example.com\n"
                      "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LEDGER_", "GIT_"))}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1",
               LEDGER_USER="alice", PYTHONPATH=str(ROOT))
    return env


def sign_with_ssh(repo: Path, base: Path, env: dict[str, str]) -> None:
    """Sign tags with a fresh ssh key that the repository's allowed-signers file trusts."""
    key = base / "alice_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f",
                    str(key)], check=True, env=env)
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    signers = base / "allowed_signers"
    signers.write_text(f"alice@example.com {kind} {blob}\n")
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(key.with_suffix(".pub"))),
                 ("gpg.ssh.allowedSignersFile", str(signers))):
        subprocess.run(["git", "-C", str(repo), "config", k, v], check=True, env=env)


@dataclass
class UiRepo:
    path: Path
    env: dict[str, str]
    ids: dict[str, str]


@pytest.fixture(scope="session")
def ui_repo(tmp_path_factory: pytest.TempPathFactory) -> UiRepo:
    import json

    base = tmp_path_factory.mktemp("ui")
    env = env_for(base)
    repo = base / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "initial"]):
        if args[0] == "add":
            (repo / "train.py").write_text("print('train')\n")
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    sign_with_ssh(repo, base, env)
    proc = subprocess.run([sys.executable, "-c", POPULATE, XSS_NAME, XSS_TAG], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return UiRepo(repo, env, json.loads(proc.stdout.strip().splitlines()[-1]))


def start_ui(repo: UiRepo, *args: str) -> Server:
    """`ledger ui --port 0` as a real process; its address is read from its first line."""
    return start_server([sys.executable, "-m", "ledger.cli", "ui", "--port", "0", *args],
                        cwd=repo.path, env=repo.env)


@pytest.fixture(scope="module")
def ui(ui_repo: UiRepo) -> Iterator[Server]:
    server = start_ui(ui_repo)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def ui_read_only(ui_repo: UiRepo) -> Iterator[Server]:
    server = start_ui(ui_repo, "--read-only")
    yield server
    stop_server(server)
