"""The installed-package list is cached per interpreter and site state in the user's cache
folder: shared by every repository, invalidated by installing a package."""

from __future__ import annotations

import json
import subprocess
import time
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


def test_the_committer_follows_the_user_s_git_configuration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / ".gitconfig"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "GIT_CONFIG_GLOBAL": str(config)}
    repo = make_repo(tmp_path / "r")

    def committer() -> str:
        got = run_ledger("log", "-m", "m=1", cwd=repo, env=env)
        assert got.code == 0, got.err
        return subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%cn <%ce>",
                               "refs/ledger/runs"], capture_output=True, text=True).stdout.strip()

    config.write_text("[user]\n\tname = Ann\n\temail = ann@example.com\n")
    time.sleep(3.2)  # a file changed in the last seconds is read, never kept
    assert committer() == "Ann <ann@example.com>"
    assert list((tmp_path / "cache" / "ledger").glob("identity-*.json"))
    assert committer() == "Ann <ann@example.com>"  # from the cache
    config.write_text("[user]\n\tname = Bob\n\temail = bob@example.com\n")  # same size
    assert committer() == "Bob <bob@example.com>"
    subprocess.run(["git", "-C", str(repo), "config", "user.name", "Local"], check=True)
    assert committer() == "Local <bob@example.com>"  # the repository's own config wins
    (home / "inc.cfg").write_text("[user]\n\temail = inc@example.com\n")
    subprocess.run(["git", "-C", str(repo), "config", "--unset", "user.name"], check=True)
    config.write_text("[user]\n\tname = Cy\n[include]\n\tpath = ~/inc.cfg\n")
    assert committer() == "Cy <inc@example.com>"  # includes are read (never cached)
    (home / "inc.cfg").write_text("[user]\n\temail = two@example.com\n")
    assert committer() == "Cy <two@example.com>"
