"""What comes from a remote is untrusted input: screen its run folders before they are merged.

Only the run folders that differ from ours are screened (the cost follows the change). A run
folder is accepted only if:
- its name is a run id in the right fan-out folder, and its run.json is that run's record
  (a folder speaks for its own id only), valid JSON matching schemas/run.schema.json;
- every entry below it is a plain file or a folder (no symlink, no submodule) with a safe
  name (no `..`, `.git`, control characters or undecodable bytes), and each listed artifact
  path is a safe relative path;
- no file is larger than the limit (LEDGER_MAX_PULL_BYTES, default the artifact limit).
Refused runs are left out of the merge (the local version, if any, stays) and reported.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass

from ledger import names
from ledger.errors import LedgerError
from ledger.runs.record import RunRecord
from ledger.runs.store import (
    ARTIFACTS_DIR,
    RUN_FILE,
    RunStore,
    changed_folders,
)
from ledger.store import trees
from ledger.store.git import git_env
from ledger.store.objects import ObjectStore, Written

MAX_RUN_JSON = 4 * 1024 * 1024
FILE_MODES = (0o100644, 0o100755)


def max_bytes() -> int:
    default = os.environ.get("LEDGER_MAX_ARTIFACT_BYTES", str(100 * 1024 * 1024))
    return int(os.environ.get("LEDGER_MAX_PULL_BYTES", default))


@dataclass(frozen=True)
class Refused:
    """A run folder of the remote that was not merged, and why."""

    run_id: str
    reason: str


def screen(store: RunStore, ours: bytes | None, theirs: bytes | None
           ) -> tuple[bytes | None, list[Refused]]:
    """Their root tree without the run folders that fail the checks, and those refused."""
    if theirs is None:
        return None, []
    found = [(fan, name, _files(store, theirs, fan, name))
             for fan, name in changed_folders(store.objects, ours, theirs)]
    sizes = _sizes(store, [sha for _f, _n, files in found if not isinstance(files, str)
                           for _p, _m, sha in files])  # one `git cat-file` for them all
    refused: list[Refused] = []
    drop: dict[str, trees.Entry | None] = {}
    for fan, name, files in found:
        reason = files if isinstance(files, str) else _problem(store, name, files, sizes)
        if reason:
            refused.append(Refused(name, reason))
            drop[f"runs/{fan}/{name}"] = None
    if not refused:
        return theirs, []
    out: list[Written] = []
    cleaned = trees.edit(store.objects, theirs, drop, out)
    if cleaned is None:
        cleaned = trees.build({}, out)
    store.objects.add(out)
    return cleaned, refused


def _files(store: RunStore, root: bytes, fan: str, run_id: str
           ) -> list[tuple[str, int, bytes]] | str:
    """Every entry of a run folder of the remote, or why it is not a run folder."""
    if not names.RUN_ID_RE.match(run_id) or fan != names.fanout(run_id):
        return f"runs/{fan}/{run_id} is not a run folder (a run id in its fan-out folder)"
    found = store.objects.lookup(root, f"runs/{fan}/{run_id}")
    if found is None or not stat.S_ISDIR(found[0]):
        return "not a folder"
    return _walk(store.objects, found[1])


def _problem(store: RunStore, run_id: str, files: list[tuple[str, int, bytes]],
             sizes: dict[bytes, int]) -> str:
    """Why a run folder of the remote cannot be merged ("" if it can). Metric files are not
    parsed here (that would read every blob): readers refuse a bad one with one line."""
    for path, mode, _sha in files:
        why = _entry_problem(path, mode)
        if why:
            return why
    limit = max_bytes()
    by_path = {path: sha for path, _m, sha in files}
    for path, sha in by_path.items():
        if sizes.get(sha, -1) < 0:
            return f"{path}: the object is missing"
        if sizes[sha] > limit:
            return (f"{path} is {sizes[sha]} bytes, above the limit of {limit} "
                    "(LEDGER_MAX_PULL_BYTES)")
    if RUN_FILE not in by_path or sizes[by_path[RUN_FILE]] > MAX_RUN_JSON:
        return f"no {RUN_FILE}, or one too large"
    try:
        record = _check_record(store.objects.blob_bytes(by_path[RUN_FILE]), run_id)
    except LedgerError as exc:
        return str(exc)
    for entry in record.artifacts:
        try:
            names.check_artifact_path(entry["path"])
        except LedgerError as exc:
            return str(exc)
        if f"{ARTIFACTS_DIR}/{entry['path']}" not in by_path:
            return f"artifact {entry['path']!r} is listed but not stored"
    return ""


def _check_record(data: bytes, run_id: str) -> RunRecord:
    import json

    from ledger import schema
    from ledger.errors import DamagedRunError
    from ledger.runs.store import checked_record

    record = checked_record(data, run_id)
    problems = schema.errors(json.loads(data), "run")
    if problems:
        raise DamagedRunError(f"its {RUN_FILE} does not match schemas/run.schema.json: "
                              f"{problems[0]}")
    return record


def _entry_problem(path: str, mode: int) -> str:
    if mode not in FILE_MODES:
        kind = {0o120000: "a symbolic link", 0o160000: "a submodule"}.get(mode, oct(mode))
        return f"{path} is {kind}, not a plain file"
    for part in path.split("/"):
        if part in ("", ".", "..", ".git") or "\\" in part or any(ord(c) < 32 for c in part):
            return f"unsafe name {path!r}"
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            return f"undecodable name {path.encode('utf-8', 'replace')!r}"
    return ""


def _walk(objects: ObjectStore, tree: bytes, prefix: str = ""
          ) -> list[tuple[str, int, bytes]]:
    """Every entry below a tree (files, links and submodules; folders are descended)."""
    out = []
    for entry in objects.tree(tree).iteritems():
        path = prefix + entry.path.decode("utf-8", "surrogateescape")
        if stat.S_ISDIR(entry.mode):
            out.extend(_walk(objects, entry.sha, path + "/"))
        else:
            out.append((path, entry.mode, entry.sha))
    return out


def _sizes(store: RunStore, shas: list[bytes]) -> dict[bytes, int]:
    """Object sizes without reading the objects (`git cat-file --batch-check`)."""
    if not shas:
        return {}
    proc = subprocess.run(
        ["git", "--git-dir", str(store.gitdir.common_dir), "cat-file", "--batch-check"],
        input=b"\n".join(shas) + b"\n", capture_output=True, check=True,
        env=git_env())
    sizes = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == b"blob":
            sizes[parts[0]] = int(parts[2])
    return sizes
