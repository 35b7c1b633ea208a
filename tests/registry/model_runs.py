"""Helpers of the model tests: runs with artifacts and the real `ledger` command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import Result, git, run_ledger


def ok(result: Result) -> str:
    assert result.code == 0, result.err
    return result.out.strip()


def fails(result: Result, *fragments: str) -> str:
    """A user error: exit 1, and the last stderr line is one `error: …` naming the fragments."""
    assert result.code == 1, (result.out, result.err)
    line = result.err.strip().splitlines()[-1]
    assert line.startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in result.out + result.err, (fragment, result.out, result.err)
    return line


def ledger(repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_ledger(*args, cwd=repo, env=env)


def as_json(result: Result) -> Any:
    return json.loads(ok(result))


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


MODEL_FILES = {
    "weights.bin": bytes(range(256)) * 40 + b"\r\n\0tail",
    "config.json": b'{"layers": 3}\n',
    "sub/vocab.txt": "caf\u00e9\nna\u00efve\n".encode(),
    "sub/deeper/with space.txt": b"no newline at end",
}


def log_run(repo: Path, tmp_path: Path, acc: float = 0.93, files: dict[str, bytes] | None = None,
            *extra: str) -> str:
    """A FINISHED run with `files` under the artifact folder `model/` and a `notes.txt`."""
    src = tmp_path / f"src-{len(list(tmp_path.glob('src-*')))}"
    write_files(src / "model", files if files is not None else MODEL_FILES)
    (src / "notes.txt").write_text("notes\n")
    return ok(ledger(repo, "log", "-e", "iris", "-p", "lr=0.1", "-m", f"acc={acc}",
                     "-a", f"{src / 'model'}:model", "-a", str(src / "notes.txt"), *extra))


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)").stdout


def object_count(repo: Path) -> tuple[str, ...]:
    """Every loose object and pack file name: a refused command adds none."""
    objects = repo / ".git" / "objects"
    return tuple(sorted(str(p.relative_to(objects)) for p in objects.rglob("*") if p.is_file()))


def extract_archive(repo: Path, ref: str, dst: Path) -> Path:
    """`git archive REF | tar -x` into dst, with nothing but git and tar."""
    dst.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", ref], capture_output=True,
                             check=True)
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive.stdout, check=True)
    return dst


def tree_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def with_date(seconds: int) -> dict[str, str]:
    """A fixed tag date (git takes a tagger date from GIT_COMMITTER_DATE)."""
    return {"GIT_COMMITTER_DATE": f"{seconds} +0000"}
