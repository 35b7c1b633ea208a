"""Artifacts are streamed in and out: memory stays a small multiple of a buffer, whatever
the size of the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git

BODY = """
import os, resource, sys
import ledger
lg = ledger.Ledger(sys.argv[1])
big, out = sys.argv[2], sys.argv[3]
lg.log_run("warm", "warm", artifacts=[(sys.argv[4], None)])  # imports and caches loaded
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rid = lg.log_run("big", "big", artifacts=[(big, "data/big.bin")])
logged = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
lg.save_artifact(rid, "data/big.bin", out)
read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rid, logged - base, read - base)
"""


@pytest.mark.slow
def test_large_artifact_is_streamed(repo: Path, tmp_path: Path) -> None:
    size = 200 * 1024 * 1024
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # sparse: 200 MB that take no disk
        f.seek(size - 5)
        f.write(b"tail!")
    small = tmp_path / "small.txt"
    small.write_text("warm up")
    out = tmp_path / "out.bin"
    env = {**os.environ, "LEDGER_MAX_ARTIFACT_BYTES": str(size + 1)}
    proc = subprocess.run([sys.executable, "-c", BODY, str(repo), str(big), str(out),
                           str(small)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rid, grew_logging, grew_reading = proc.stdout.split()
    # ru_maxrss is in KiB: a few buffers of 1 MiB, nowhere near the 200 MiB of the file
    assert int(grew_logging) < 40 * 1024, grew_logging
    assert int(grew_reading) < 40 * 1024, grew_reading
    assert out.stat().st_size == size
    with open(out, "rb") as f:
        f.seek(size - 5)
        assert f.read() == b"tail!"
    sha = git(repo, "rev-parse", f"refs/ledger/runs:runs/{rid[-2:]}/{rid}/artifacts/data/big.bin")
    assert git(repo, "cat-file", "-s", sha.stdout.strip()).stdout.strip() == str(size)
    assert git(repo, "fsck").returncode == 0
