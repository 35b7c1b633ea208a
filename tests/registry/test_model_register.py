"""`ledger model register` and `get`: the package is a git tree that plain git reproduces."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ledger as ledger_api
from ledger import schema
from ledger.registry.package import MANIFEST
from tests.conftest import git
from tests.registry.model_runs import (
    MODEL_FILES,
    as_json,
    extract_archive,
    fails,
    ledger,
    log_run,
    object_count,
    ok,
    refs,
    tree_files,
)


def test_git_archive_alone_reproduces_the_model_folder(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    assert ok(ledger(repo, "model", "register", "iris", "--run", rid[:8], "--path", "model")) \
        == "iris@v0.0.1"
    out = extract_archive(repo, "iris@v0.0.1", tmp_path / "archived")
    files = tree_files(out)
    manifest_bytes = files.pop(MANIFEST)
    assert files == MODEL_FILES  # byte for byte, nothing else but the manifest
    manifest = json.loads(manifest_bytes)
    schema.validate(manifest, "model", "the model manifest")
    source = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert (manifest["name"], manifest["version"], manifest["run_id"]) == ("iris", "v0.0.1", rid)
    assert (manifest["experiment"], manifest["source_commit"]) == ("iris", source)
    assert (manifest["metrics"], manifest["params"]) == ({"acc": 0.93}, {"lr": "0.1"})
    assert manifest["artifact_path"] == "model"
    assert [(f["path"], f["size"], f["sha256"]) for f in manifest["files"]] == [
        (p, len(d), hashlib.sha256(d).hexdigest()) for p, d in sorted(MODEL_FILES.items())]
    # `git show` names the run, its metrics, the source commit and the manifest's digest
    shown = git(repo, "show", "-s", "iris@v0.0.1").stdout
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    for line in (f"run: {rid}", "metrics.acc: 0.93", f"source: {source}",
                 f"manifest: sha256:{digest}"):
        assert line in shown, shown


def test_the_package_reuses_the_run_objects_and_touches_no_branch(repo: Path,
                                                                   tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    branches = git(repo, "for-each-ref", "refs/heads").stdout
    ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"))
    art = f"refs/ledger/runs:runs/{rid[-2:]}/{rid}/artifacts/model"
    for path in ("weights.bin", "sub", "sub/deeper"):  # the same blobs and trees, not copies
        assert git(repo, "rev-parse", f"iris@v0.0.1:{path}").stdout == \
            git(repo, "rev-parse", f"{art}/{path}").stdout
    commit = git(repo, "rev-parse", "iris@v0.0.1^{commit}").stdout.strip()
    assert git(repo, "rev-list", "--parents", "-n1", commit).stdout.split() == [commit]
    assert git(repo, "for-each-ref", "--contains", commit, "--format=%(refname)").stdout \
        .split() == ["refs/tags/iris@v0.0.1"]
    assert git(repo, "for-each-ref", "refs/heads").stdout == branches
    assert git(repo, "cat-file", "-t", "iris@v0.0.1").stdout.strip() == "tag"
    fsck = git(repo, "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0 and "error" not in fsck.stderr.lower(), fsck.stderr


def test_path_to_a_file_and_all_artifacts(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    ok(ledger(repo, "model", "register", "one", "--run", rid, "--path", "model/config.json"))
    files = tree_files(extract_archive(repo, "one@v0.0.1", tmp_path / "one"))
    assert set(files) == {"config.json", MANIFEST}
    assert files["config.json"] == MODEL_FILES["config.json"]
    ok(ledger(repo, "model", "register", "all", "--run", rid))
    files = tree_files(extract_archive(repo, "all@v0.0.1", tmp_path / "all"))
    assert json.loads(files.pop(MANIFEST))["artifact_path"] is None
    assert files == {"notes.txt": b"notes\n", **{f"model/{k}": v for k, v in MODEL_FILES.items()}}


def test_get_and_load_model_dir_write_what_git_archive_gives(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"))
    ok(ledger(repo, "model", "promote", "iris", "v0.0.1", "prod"))
    archived = tree_files(extract_archive(repo, "iris@v0.0.1", tmp_path / "archived"))
    for i, ref in enumerate(("iris@v0.0.1", "iris@latest", "iris#prod")):
        out = tmp_path / f"got-{i}"
        assert ok(ledger(repo, "model", "get", ref, "-o", str(out))) == str(out)
        assert tree_files(out) == archived
    (tmp_path / "got-0" / "weights.bin").write_bytes(b"changed")  # an existing folder: replaced
    ok(ledger(repo, "model", "get", "iris@v0.0.1", "-o", str(tmp_path / "got-0")))
    assert tree_files(tmp_path / "got-0") == archived
    folder = ledger_api.load_model_dir("iris#prod", repo=repo)
    assert folder.parent == repo / ".git" / "ledger" / "models" and tree_files(folder) == archived
    assert ledger_api.load_model_dir("iris@v0.0.1", repo=str(repo)) == folder  # cached
    assert tree_files(ledger_api.load_model_dir("iris@latest", tmp_path / "dst", repo=repo)) \
        == archived
    fails(ledger(repo, "model", "get", "iris@v9.9.9", "-o", str(tmp_path / "x")), "v9.9.9")
    assert not (tmp_path / "x").exists()


def test_python_api_registers_and_promotes(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    lg = ledger_api.Ledger(repo)
    done = ledger_api.register_model("iris", rid, path="model", bump="minor", repo=lg)
    assert (done.tag, done.version, done.run_id, done.files) == ("iris@v0.1.0", "v0.1.0", rid, 4)
    assert ledger_api.promote_model("iris", "v0.1.0", "staging", repo=lg) == "iris#staging#1"
    shown = as_json(ledger(repo, "model", "show", "iris#staging", "--format", "json"))
    assert [(v["version"], v["stages"], v["run_id"]) for v in shown] == \
        [("v0.1.0", ["staging"], rid)]


@pytest.mark.parametrize("case", ["bad-name", "exists", "unfinished", "no-such-path",
                                  "no-artifacts", "bad-version", "version-and-bump",
                                  "deleted-run", "escaping-path", "no-such-run"])
def test_refused_register_writes_nothing(repo: Path, tmp_path: Path, case: str) -> None:
    rid = log_run(repo, tmp_path)
    ok(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"))
    args = ["model", "register", "iris", "--run", rid, "--path", "model"]
    expect = ""
    if case == "bad-name":
        args[2], expect = "Iris!", "invalid model name"
    elif case == "exists":
        args += ["--version", "v0.0.1"]
        expect = "iris@v0.0.1 exists already"
    elif case == "unfinished":
        open_run = ok(ledger(repo, "start"))
        (tmp_path / "w.bin").write_bytes(b"w")
        ok(ledger(repo, "log", "--run", open_run, "-a", str(tmp_path / "w.bin")))
        args[4], expect = open_run, "RUNNING, not FINISHED"
    elif case == "no-such-path":
        args[6], expect = "model/missing", "no artifact 'model/missing'"
    elif case == "no-artifacts":
        args = ["model", "register", "iris", "--run", ok(ledger(repo, "log", "-m", "a=1"))]
        expect = "no artifacts"
    elif case == "bad-version":
        args += ["--version", "1.0"]
        expect = "invalid version"
    elif case == "version-and-bump":
        args += ["--version", "v2.0.0", "--bump", "minor"]
        expect = "not both"
    elif case == "deleted-run":
        ok(ledger(repo, "delete", rid))
        expect = "deleted"
    elif case == "escaping-path":
        args[6], expect = "../../run.json", "must not contain '..'"
    elif case == "no-such-run":
        args[4], expect = "ffff", "no run"
    before = (refs(repo), object_count(repo))
    line = fails(ledger(repo, *args), expect)
    assert "\n" not in line
    assert (refs(repo), object_count(repo)) == before


def test_unfinished_run_with_allow_unfinished(repo: Path, tmp_path: Path) -> None:
    open_run = ok(ledger(repo, "start"))
    (tmp_path / "w.bin").write_bytes(b"w")
    ok(ledger(repo, "log", "--run", open_run, "-a", str(tmp_path / "w.bin")))
    assert ok(ledger(repo, "model", "register", "iris", "--run", open_run,
                     "--allow-unfinished")) == "iris@v0.0.1"
    assert git(repo, "show", "iris@v0.0.1:w.bin").stdout == "w"


def test_an_artifact_named_like_the_manifest_is_refused(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path, files={MANIFEST: b"{}", "m.bin": b"m"})
    before = refs(repo)
    fails(ledger(repo, "model", "register", "iris", "--run", rid, "--path", "model"), MANIFEST)
    assert refs(repo) == before


def test_concurrent_registers_take_distinct_numbers(repo: Path, tmp_path: Path) -> None:
    rid = log_run(repo, tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "ledger.cli", "model", "register", "iris",
                               "--run", rid, "--path", "model"], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    assert sorted(out.strip() for out, _ in outs) == [f"iris@v0.0.{i}" for i in range(1, 5)]
    shown = as_json(ledger(repo, "model", "show", "iris", "--format", "json"))
    assert len({v["commit"] for v in shown}) == 4


@pytest.mark.parametrize("entry", [b"..", b".git"])
def test_get_refuses_a_package_that_would_escape_its_folder(repo: Path, tmp_path: Path,
                                                           entry: bytes) -> None:
    """A tag fetched from elsewhere may point at any tree; nothing is written outside DST."""
    from dulwich.objects import Blob, Tree

    from ledger.api import Ledger
    from ledger.registry.signing import create_tag

    objects = Ledger(repo).store.objects
    payload = Blob.from_string(b"pwned\n")
    inner = Tree()
    inner.add(b"evil.txt", 0o100644, payload.id)
    root = Tree()
    root.add(entry, 0o040000, inner.id)
    objects.add([payload, inner, root])
    commit = git(repo, "commit-tree", "-m", "evil", root.id.decode()).stdout.strip()
    create_tag(repo, "evil@v0.0.1", commit, "evil")
    out = tmp_path / "inside" / "dst"
    fails(ledger(repo, "model", "get", "evil@v0.0.1", "-o", str(out)), "unsafe path")
    assert not (tmp_path / "inside").exists() or not any((tmp_path / "inside").iterdir())
    assert not (tmp_path / "evil.txt").exists()
