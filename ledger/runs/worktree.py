"""The source state of a work tree, remembered while nothing git looks at has changed.

A run records its source as `git status` sees it when the run starts (P9). Spawning git
costs milliseconds, most of a short run's price; so the state git reported is kept, with
everything it depends on: HEAD and the branch it names, the index file, git's configuration
and attributes files, and the `lstat` of every tracked file. While all of those are exactly
as they were, git would see what it saw (it trusts the same stat data), and the state is
reused; any difference, and git runs again.

Kept only when it is safe, by git's own racy-clean rule: a file whose timestamps are not
older than a timestamp taken from the file system just before the capture could change
again within the same clock tick without its stat changing, so such a capture is not kept.
Not kept either for submodules (their state is not in these files), split or sparse
indexes, or more than MAX_ENTRIES tracked files (where stat-ing every file from Python
costs more than git's own status). Kept per process, and in .git/ledger/cache for the next
process (`ledger log` in a shell loop).
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from typing import Any

import msgpack

from ledger.store.gitdir import GitDir

MAX_ENTRIES = 2000
MAX_PATCH = 16 << 20  # bytes of a dirty patch kept
FORMAT = 1  # of the cache file
_GITLINK = 0o160000
_ENTRY = struct.Struct(">10I20sH")  # ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size
_memory: dict[str, dict[str, Any]] = {}
_file_lists: dict[Path, tuple[tuple[str, str], list[str]]] = {}

State = tuple[dict[str, Any], "bytes | None"]


class Snapshot:
    """What a capture's answer depends on, taken just before git runs."""

    def __init__(self, key: list[Any], paths: list[str], stats: list[Any]) -> None:
        self.key = key
        self.paths = paths
        self.stats = stats


def recall(gitdir: GitDir) -> State | None:
    """The state captured earlier, if nothing it depends on has changed since."""
    entry = _memory.get(str(gitdir.git_dir)) or _load(gitdir)
    if entry is None:
        return None
    if entry["key"] != _key(gitdir) or entry["stats"] != _stats(gitdir, entry["paths"]):
        return None
    return dict(entry["info"]), entry["patch"]


def snapshot(gitdir: GitDir) -> Snapshot | None:
    """The inputs of a capture about to run, or None if its answer could not be kept."""
    assert gitdir.work_tree is not None
    paths = _tracked(gitdir.git_dir / "index")
    if paths is None:
        return None
    key = _key(gitdir)
    if key is None:
        return None
    now = _fs_now(gitdir)
    stats = _stats(gitdir, paths)
    if now is None or _racy(key, stats, now):
        return None
    return Snapshot(key, paths, stats)


def keep(gitdir: GitDir, snap: Snapshot | None, info: dict[str, Any],
         patch: bytes | None) -> None:
    """Remember what git answered for `snap`, if nothing it depends on moved meanwhile."""
    if snap is None or len(patch or b"") > MAX_PATCH or _key(gitdir) != snap.key:
        return
    entry = {"format": FORMAT, "key": snap.key, "paths": snap.paths, "stats": snap.stats,
             "info": dict(info), "patch": patch}
    _memory[str(gitdir.git_dir)] = entry
    path = _cache_file(gitdir)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(msgpack.packb(entry, use_bin_type=True))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a cache only


def forget() -> None:
    """Drop what this process remembers (tests; the cache files stay valid)."""
    _memory.clear()


# -- what a capture depends on ------------------------------------------------------------
def _cache_file(gitdir: GitDir) -> Path:
    name = hashlib.sha1(os.fsencode(gitdir.git_dir)).hexdigest()[:16]
    return gitdir.ledger_dir / "cache" / f"worktree-{name}.msgpack"


def _load(gitdir: GitDir) -> dict[str, Any] | None:
    try:
        entry = msgpack.unpackb(_cache_file(gitdir).read_bytes(), raw=False)
    except (OSError, ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        return None
    _memory[str(gitdir.git_dir)] = entry
    return entry


def _stat(path: str | Path) -> list[int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode, st.st_dev,
            st.st_uid, st.st_gid]


def _read_path(path: str | Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _key(gitdir: GitDir) -> list[Any] | None:
    """HEAD and its branch by content; the index, packed refs, configuration and attributes
    files by stat; git's environment variables."""
    head = _read_path(os.path.join(gitdir.git_dir, "HEAD"))
    if head is None or b".invalid" in head:  # reftable keeps refs elsewhere
        return None
    branch = None
    if head.startswith(b"ref: "):
        branch = _read_path(os.path.join(gitdir.common_dir, os.fsdecode(head[5:].strip())))
    env = sorted([k, v] for k, v in os.environ.items() if k.startswith("GIT_"))
    return [head, branch, [_stat(f) for f in _files(gitdir)], env, str(gitdir.work_tree)]


def _files(gitdir: GitDir) -> list[str]:
    """The files besides HEAD and the branch that change what git status says."""
    home = os.path.expanduser("~")
    xdg = os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
                       "git")
    found = _file_lists.get(gitdir.git_dir)
    if found is None or found[0] != (home, xdg):
        git, common = os.fspath(gitdir.git_dir), os.fspath(gitdir.common_dir)
        paths = [os.path.join(git, "index"), os.path.join(common, "packed-refs"),
                 os.path.join(common, "config"), os.path.join(git, "config.worktree"),
                 os.path.join(common, "info", "attributes"), os.path.join(home, ".gitconfig"),
                 os.path.join(xdg, "config"), os.path.join(xdg, "attributes"), "/etc/gitconfig"]
        found = _file_lists[gitdir.git_dir] = ((home, xdg), paths)
    return found[1]


def _stats(gitdir: GitDir, paths: list[str]) -> list[Any]:
    assert gitdir.work_tree is not None
    root = os.fspath(gitdir.work_tree)
    return [_stat(os.path.join(root, p)) for p in paths]


def _fs_now(gitdir: GitDir) -> int | None:
    """A timestamp from the clock that stamps the files: a file written just now in
    .git/ledger/cache, on the work tree's file system (else no timestamp)."""
    folder = gitdir.ledger_dir / "cache"
    try:
        if os.stat(gitdir.common_dir).st_dev != os.stat(gitdir.work_tree or ".").st_dev:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f"clock.{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"0")
            now = os.fstat(f.fileno()).st_mtime_ns
        probe.unlink()
    except OSError:
        return None
    return now


def _racy(key: list[Any], stats: list[Any], now: int) -> bool:
    """True if a file could still change within the clock tick it was last stamped in."""
    every = [*key[2], *stats]
    return any(s is not None and (s[0] >= now or s[1] >= now) for s in every)


# -- git's index: which paths are tracked -------------------------------------------------
def _tracked(index: Path) -> list[str] | None:
    """The tracked paths in git's index, or None if a capture over them could not be kept
    (no index is no tracked file; an unknown format, a submodule, a split or sparse index,
    or too many files is None)."""
    data = _read_path(index)
    if data is None:
        return []
    if len(data) < 12 or data[:4] != b"DIRC":
        return None
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4) or count > MAX_ENTRIES:
        return None
    paths: list[str] = []
    offset = 12
    previous = b""
    try:
        for _ in range(count):
            fields = _ENTRY.unpack_from(data, offset)
            mode, flags = fields[6], fields[11]
            if mode & 0o170000 == _GITLINK:
                return None
            start = offset
            offset += _ENTRY.size + (2 if flags & 0x4000 and version >= 3 else 0)
            if version == 4:
                strip, offset = _varint(data, offset)
                end = data.index(b"\0", offset)
                name = previous[:len(previous) - strip] + data[offset:end]
                offset = end + 1
            else:
                end = data.index(b"\0", offset)
                name = data[offset:end]
                offset = start + ((end - start + 8) & ~7)
            previous = name
            paths.append(os.fsdecode(name))
        while offset + 8 <= len(data) - 20:  # extensions, then the checksum
            signature = data[offset:offset + 4]
            if signature in (b"link", b"sdir") or not signature[:1].isupper():
                return None  # required by git, and changes what the entries mean
            offset += 8 + struct.unpack_from(">I", data, offset + 4)[0]
    except (struct.error, ValueError, IndexError):
        return None
    return paths


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    """git's offset varint (index v4's prefix length)."""
    byte = data[offset]
    offset += 1
    value = byte & 0x7F
    while byte & 0x80:
        byte = data[offset]
        offset += 1
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, offset

