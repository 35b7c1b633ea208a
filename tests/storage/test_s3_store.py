"""Large files through a real S3-compatible server on 127.0.0.1 (moto's server mode, started
here): nothing reaches the bucket until `ledger push`, which uploads before the remote ref
moves; a clone pulls the pointers and fetches the files from the bucket, verified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git, run_ledger
from tests.storage.store_support import big_file, configure

pytestmark = pytest.mark.slow

BUCKET = "ledger-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_CONFIG_FILE": "/dev/null",
                       "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(key, value)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def keys(endpoint: str) -> list[str]:
    import boto3

    found = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in found.get("Contents", []))


def test_push_uploads_before_the_ref_moves_and_a_clone_fetches(s3: str, repo: Path,
                                                               tmp_path: Path) -> None:
    configure(repo, f"s3://{BUCKET}/team")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "HEAD:main")
    first = big_file(repo / "a.bin", 3000, seed=1)
    second = big_file(repo / "b.bin", 5000, seed=2)
    logged = run_ledger("log", "-m", "acc=0.5", "-a", "a.bin", "-a", "b.bin", cwd=repo)
    assert logged.code == 0, logged.err
    rid = logged.out.strip()
    assert keys(s3) == []  # logging keeps them in the local cache only

    # an object lost from the cache before the push: the push fails, the remote ref stays
    cache = repo / ".git" / "ledger" / "storage" / "sha256"
    [lost] = [p for p in cache.rglob("*") if p.is_file() and p.stat().st_size == 3000]
    saved = lost.read_bytes()
    lost.unlink()
    failed = run_ledger("push", cwd=repo)
    assert failed.code == 1 and "missing" in failed.err
    assert git(repo, "ls-remote", str(remote), "refs/ledger/runs").stdout == ""
    lost.write_bytes(saved)

    pushed = run_ledger("push", cwd=repo)
    assert pushed.code == 0, pushed.err
    assert "2 uploaded" in pushed.out
    assert len(keys(s3)) == 2 and all(k.startswith("team/sha256/") for k in keys(s3))
    again = run_ledger("push", cwd=repo)
    assert again.code == 0 and "uploaded" not in again.out

    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    assert run_ledger("pull", cwd=other).code == 0
    got = run_ledger("get", rid, "b.bin", "-o", str(tmp_path / "b.out"), cwd=other)
    assert got.code == 0, got.err
    assert (tmp_path / "b.out").read_bytes() == second
    from ledger.api import Ledger

    assert Ledger(other).read_artifact(rid, "a.bin") == first


def test_an_unreachable_store_is_one_line(repo: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("s3fs")
    configure(repo, f"s3://{BUCKET}/x")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    big_file(repo / "a.bin", 1000)
    assert run_ledger("log", "-a", "a.bin", cwd=repo).code == 0
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
    res = run_ledger("push", cwd=repo, env=env)
    assert res.code == 1 and res.err.startswith("error: cannot look up"), res.err
    assert git(repo, "ls-remote", str(remote), "refs/ledger/runs").stdout == ""
