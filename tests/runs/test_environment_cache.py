"""The installed-package list is cached per interpreter and site state in the user's cache
folder: shared by every repository, invalidated by installing a package."""

from __future__ import annotations

import json
from pathlib import Path

from ledger import names
from tests.conftest import ROOT, git, make_repo, run_ledger


def environment(repo: Path, run_id: str) -> dict[str, str]:
    path = f"refs/ledger/runs:{names.run_dir(run_id)}/environment.json"
    return json.loads(git(repo, "show", path).stdout)


def test_the_package_list_is_shared_and_invalidated_by_an_install(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    site = tmp_path / "site"
    site.mkdir()
    env = {"XDG_CACHE_HOME": str(cache), "PYTHONPATH": f"{site}:{ROOT}"}
    first, second = make_repo(tmp_path / "a"), make_repo(tmp_path / "b")
    got = run_ledger("log", "-p", "a=1", cwd=first, env=env)
    assert got.code == 0, got.err
    cached = sorted((cache / "ledger").glob("packages-*.json"))
    assert len(cached) == 1
    assert not list((first / ".git" / "ledger").rglob("packages-*"))  # per user, not repo
    listed = environment(first, got.out.strip())
    assert "fakepkg" not in listed and listed  # the interpreter's packages
    assert run_ledger("log", "-p", "a=1", cwd=second, env=env).code == 0
    assert sorted((cache / "ledger").glob("packages-*.json")) == cached  # reused
    dist = site / "fakepkg-1.2.3.dist-info"  # what `pip install fakepkg` leaves
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.2.3\n")
    got = run_ledger("log", "-p", "a=2", cwd=second, env=env)
    assert got.code == 0, got.err
    assert environment(second, got.out.strip())["fakepkg"] == "1.2.3"
    assert len(list((cache / "ledger").glob("packages-*.json"))) == 2
