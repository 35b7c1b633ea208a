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

Before git is asked, `clean_from_index` tells a clean work tree from git's index alone, as
git status itself decides it: every tracked file's stat as the index recorded it, and the
index's cached root tree equal to HEAD's tree. Anything else (a change, a racy entry, an
invalidated cache tree, `git replace`, a symlinked folder) is left to git.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from ledger.store.files import read_or_none
from ledger.store.gitdir import GitDir
from ledger.store.identity import user_config_files
from ledger.store.reader import offset_varint

MAX_ENTRIES = 2000
MAX_PATCH = 16 << 20  # bytes of a dirty patch kept
FORMAT = 1  # of the cache file
_GITLINK = 0o160000
_ENTRY = struct.Struct(">10I20sH")  # ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size
_memory: dict[str, dict[str, Any]] = {}

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
    before = _stat(os.path.join(gitdir.git_dir, "index"))
    paths = _tracked(gitdir.git_dir / "index")
    if paths is None or _uncacheable(gitdir):
        return None
    key = _key(gitdir)
    if key is None or key[2][0] != before:  # the index was replaced while it was read
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
        tmp.write_bytes(msgpack.packb(entry, use_bin_type=True, unicode_errors="surrogateescape"))
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
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
        entry = msgpack.unpackb(_cache_file(gitdir).read_bytes(), raw=False,
                                unicode_errors="surrogateescape")
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


def _key(gitdir: GitDir) -> list[Any] | None:
    """HEAD and its branch by content; the index, packed refs, configuration and attributes
    files by stat; git's environment variables."""
    head = read_or_none(os.path.join(gitdir.git_dir, "HEAD"))
    if head is None or b".invalid" in head:  # reftable keeps refs elsewhere
        return None
    chain: list[bytes | None] = []  # what HEAD points to, through symbolic refs
    target: bytes | None = head
    while target is not None and target.startswith(b"ref: ") and len(chain) < 5:
        target = read_or_none(os.path.join(gitdir.common_dir, os.fsdecode(target[5:].strip())))
        chain.append(target)
    env = sorted([k, v] for k, v in os.environ.items() if k.startswith("GIT_"))
    return [head, chain, [_stat(f) for f in _files(gitdir)], env, str(gitdir.work_tree)]


def _uncacheable(gitdir: GitDir) -> bool:
    """Configuration whose inputs the key does not cover: included files, an attributes
    file named in the configuration."""
    for path in _config_files(gitdir):
        text = (read_or_none(path) or b"").lower()
        if b"include" in text or b"attributesfile" in text:
            return True
    return False


def _config_files(gitdir: GitDir) -> list[str]:
    """The configuration git reads for this repository: its own, then the user's."""
    return [os.path.join(gitdir.common_dir, "config"),
            os.path.join(gitdir.git_dir, "config.worktree"), *user_config_files()]


def _files(gitdir: GitDir) -> list[str]:
    """The files besides HEAD and the branch that change what git status says."""
    git, common = os.fspath(gitdir.git_dir), os.fspath(gitdir.common_dir)
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return [os.path.join(git, "index"), os.path.join(common, "packed-refs"),
            os.path.join(common, "refs", "replace"),  # `git replace` (a folder)
            os.path.join(common, "info", "attributes"), os.path.join(xdg, "git", "attributes"),
            *_config_files(gitdir)]


def _stats(gitdir: GitDir, paths: list[str]) -> list[Any]:
    """The lstat of every tracked file; of every folder on their paths (git sees a file
    behind a folder that became a symlink as deleted, lstat follows it); and of the
    `.gitattributes` files that could apply to them (tracked or not)."""
    assert gitdir.work_tree is not None
    root = os.fspath(gitdir.work_tree)
    folders = sorted(_folders(paths))
    return ([_stat(os.path.join(root, p)) for p in paths]
            + [_kind(os.path.join(root, f)) for f in folders if f]
            + [_stat(os.path.join(root, f, ".gitattributes")) for f in folders])


def _kind(path: str) -> list[int] | None:
    """What a folder is (its type and inode), not when it last changed: files come and go
    in it without changing what git says of the tracked ones."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return [stat.S_IFMT(st.st_mode), st.st_ino, st.st_dev]


def _folders(paths: list[str]) -> set[str]:
    """Every folder on the paths, the work tree itself as ''."""
    found = {""}
    for path in paths:
        folder = os.path.dirname(path)
        while folder and folder not in found:
            found.add(folder)
            folder = os.path.dirname(folder)
    return found


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
    return any(s is not None and len(s) > 3 and (s[0] >= now or s[1] >= now) for s in every)


# -- git's index -----------------------------------------------------------------------------
class Index:
    """The entries of git's index (path and stat fields) and its optional extensions."""

    def __init__(self, paths: list[str], fields: list[tuple[Any, ...]],
                 extensions: dict[bytes, bytes]) -> None:
        self.paths = paths
        self.fields = fields  # ctime s, ns, mtime s, ns, dev, ino, mode, uid, gid, size, id, flags
        self.extensions = extensions


def _tracked(index: Path) -> list[str] | None:
    """The tracked paths in git's index, or None if a capture over them could not be kept
    (no index is no tracked file; an unknown format, a submodule, a split or sparse index,
    or too many files is None)."""
    data = read_or_none(index)
    if data is None:
        return []
    found = _parse_index(data)
    return None if found is None else found.paths


def _parse_index(data: bytes) -> Index | None:
    if len(data) < 12 or data[:4] != b"DIRC":
        return None
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4) or count > MAX_ENTRIES:
        return None
    paths: list[str] = []
    fields: list[tuple[Any, ...]] = []
    extensions: dict[bytes, bytes] = {}
    offset = 12
    previous = b""
    try:
        for _ in range(count):
            entry = _ENTRY.unpack_from(data, offset)
            mode, flags = entry[6], entry[11]
            if mode & 0o170000 == _GITLINK:
                return None
            start = offset
            offset += _ENTRY.size
            if flags & 0x4000 and version >= 3:  # extended flags: skip-worktree, intent-to-add
                entry += struct.unpack_from(">H", data, offset)
                offset += 2
            if version == 4:
                strip, offset = offset_varint(data, offset)
                end = data.index(b"\0", offset)
                name = previous[:len(previous) - strip] + data[offset:end]
                offset = end + 1
            else:
                end = data.index(b"\0", offset)
                name = data[offset:end]
                offset = start + ((end - start + 8) & ~7)
            previous = name
            paths.append(os.fsdecode(name))
            fields.append(entry)
        while offset + 8 <= len(data) - 20:  # extensions, then the checksum
            signature = data[offset:offset + 4]
            if signature in (b"link", b"sdir") or not signature[:1].isupper():
                return None  # required by git, and changes what the entries mean
            size = struct.unpack_from(">I", data, offset + 4)[0]
            extensions[signature] = data[offset + 8:offset + 8 + size]
            offset += 8 + size
    except (struct.error, ValueError, IndexError):
        return None
    return Index(paths, fields, extensions)


def clean_from_index(gitdir: GitDir, head_tree: Callable[[bytes], bytes | None]
                     ) -> dict[str, Any] | None:
    """The state git status would report for a clean work tree, read without git: every
    tracked file's stat as the index recorded it and older than the index (git's racy-clean
    rule), and the index's cached root tree the tree of HEAD's commit. None if any of that
    does not hold (or cannot be told): then git answers. `head_tree` gives a commit's tree."""
    assert gitdir.work_tree is not None
    index_path = os.path.join(gitdir.git_dir, "index")
    head = read_or_none(os.path.join(gitdir.git_dir, "HEAD"))
    before = _stat(index_path)
    data = read_or_none(index_path)
    if head is None or data is None or before is None or _stat(index_path) != before:
        return None  # no index, or one being replaced: git answers
    branch, commit = _resolve_head(gitdir, head)
    index = _parse_index(data)
    if index is None or commit is None:  # an unborn branch: git's answer is cheap anyway
        return None
    index_time = (before[0] // 10**9, before[0] % 10**9)
    if _replacing(gitdir):
        return None
    root = os.fspath(gitdir.work_tree)
    for folder in _folders(index.paths):
        if folder and not stat.S_ISDIR((_stat(os.path.join(root, folder)) or [0] * 5)[4]):
            return None  # a folder became a symlink (or went): git decides
    for path, entry in zip(index.paths, index.fields):
        if entry[11] & 0xF000 or len(entry) > 12:  # assume-valid, a stage, extended flags
            return None
        if (entry[2], entry[3]) >= index_time or _stat_data(os.path.join(root, path)) != (
                entry[0], entry[1], entry[2], entry[3], entry[5], entry[6], entry[7],
                entry[8], entry[9]):
            return None
    cached = _cached_root(index.extensions.get(b"TREE"))
    if cached is None or cached != head_tree(commit):
        return None
    return {"commit": commit.decode(), "branch": branch, "dirty": False}


def _replacing(gitdir: GitDir) -> bool:
    """True if `git replace` may swap commits (git status would compare with another tree)."""
    if os.environ.get("GIT_NO_REPLACE_OBJECTS"):
        return False
    try:
        if os.listdir(os.path.join(gitdir.common_dir, "refs", "replace")):
            return True
    except OSError:
        pass
    packed = read_or_none(os.path.join(gitdir.common_dir, "packed-refs")) or b""
    return b" refs/replace/" in packed


def _stat_data(path: str) -> tuple[int, ...] | None:
    """A file's stat as git's index records it (32-bit fields; mode as git derives it)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        mode = 0o120000
    elif stat.S_ISREG(st.st_mode):
        mode = 0o100755 if st.st_mode & 0o100 else 0o100644
    else:
        return None
    low = 0xFFFFFFFF
    return (st.st_ctime_ns // 10**9 & low, st.st_ctime_ns % 10**9, st.st_mtime_ns // 10**9 & low,
            st.st_mtime_ns % 10**9, st.st_ino & low, mode, st.st_uid & low, st.st_gid & low,
            st.st_size & low)


def _cached_root(tree: bytes | None) -> bytes | None:
    """The root tree id in the index's cache-tree extension, if it is valid."""
    if not tree or not tree.startswith(b"\0"):
        return None
    end = tree.find(b"\n", 1)
    counts = tree[1:end].split(b" ") if end > 0 else []
    if len(counts) != 2 or not counts[0].lstrip(b"-").isdigit() or int(counts[0]) < 0:
        return None  # invalidated since it was written
    return tree[end + 1:end + 21].hex().encode() if len(tree) >= end + 21 else None


def _resolve_head(gitdir: GitDir, head: bytes) -> tuple[str | None, bytes | None]:
    """(branch, commit) that HEAD names; commit None for an unborn branch or a ref that
    cannot be read here."""
    head = head.strip()
    if not head.startswith(b"ref: "):
        return None, head if len(head) == 40 else None
    ref = head[5:].strip()
    branch = (ref[len(b"refs/heads/"):].decode("utf-8", "replace")  # as capture decodes git's
              if ref.startswith(b"refs/heads/") else None)
    loose = read_or_none(os.path.join(gitdir.common_dir, os.fsdecode(ref)))
    if loose is not None:
        value = loose.strip()  # a symbolic ref here: None, git decides
        return branch, value if len(value) == 40 else None
    for line in (read_or_none(os.path.join(gitdir.common_dir, "packed-refs")) or b"").splitlines():
        if line.endswith(b" " + ref) and len(line) == 41 + len(ref):
            return branch, line[:40]
    return branch, None
