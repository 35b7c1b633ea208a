"""Who writes: the committer identity from the user's git configuration."""

from __future__ import annotations

import hashlib
import json
import os
import time

from ledger.store.files import read_or_none, user_cache_dir, write_atomic
from ledger.store.gitdir import GitDir

_cache: dict[str, bytes] = {}


def identity(gitdir: GitDir) -> bytes:
    """`Name <email>` from git config (repository, then global), else the login and host."""
    key = str(gitdir.common_dir)
    if key not in _cache:
        _cache[key], _configured[key] = _lookup(gitdir)
    return _cache[key]


def fallback_config(gitdir: GitDir) -> dict[str, str]:
    """`-c` settings that give a `git` command the ledger's identity when the user has not
    configured one (so `git tag -a` works wherever `ledger log` does); {} when configured."""
    who = identity(gitdir).decode("utf-8", "replace")
    if _configured[str(gitdir.common_dir)]:
        return {}
    name, _, email = who.partition(" <")
    return {"user.name": name, "user.email": email.rstrip(">")}


_configured: dict[str, bool] = {}


def _lookup(gitdir: GitDir) -> tuple[bytes, bool]:
    name = os.environ.get("GIT_COMMITTER_NAME") or os.environ.get("GIT_AUTHOR_NAME")
    email = os.environ.get("GIT_COMMITTER_EMAIL") or os.environ.get("GIT_AUTHOR_EMAIL")
    if not (name and email):
        found = _configured_identity(gitdir)
        name, email = name or found.get("name"), email or found.get("email")
    from ledger.names import host_name, user_name

    configured = bool(name and email)
    name = name or user_name()
    email = email or f"{user_name()}@{host_name()}"
    return f"{name} <{email}>".encode(), configured


def _configured_identity(gitdir: GitDir) -> dict[str, str]:
    """user.name and user.email from git's configuration. The user's own (global and system)
    files are read once per change of theirs (the answer is kept in the user's cache): the
    repository's config decides only if it says something of users or includes."""
    try:
        local = (gitdir.common_dir / "config").read_bytes().lower()
    except OSError:
        local = b""
    if b"user" in local or b"include" in local:
        return _read_config([str(gitdir.common_dir / "config")])
    files = user_config_files()
    stamp = json.dumps([[f, _stamp(f)] for f in files]
                       + sorted([k, v] for k, v in os.environ.items() if k.startswith("GIT_")))
    key = hashlib.sha1(stamp.encode()).hexdigest()[:20]
    path = user_cache_dir() / f"identity-{key}.json"
    try:
        cached = json.loads(path.read_bytes())
        if isinstance(cached, dict):
            return {k: v for k, v in cached.items() if isinstance(v, str)}
    except (OSError, ValueError):
        pass
    found = _read_config([])
    texts = b"".join(read_or_none(f) or b"" for f in files).lower()
    if b"include" not in texts and all(not _recent(_stamp(f)) for f in files):
        try:  # a cache only; an included file's change would not show in the stamp
            write_atomic(path, json.dumps(found).encode())
        except OSError:
            pass
    return found


def _read_config(first: list[str]) -> dict[str, str]:
    """What git's configuration says of the user (dulwich reads it, includes and all)."""
    from dulwich.config import ConfigFile, StackedConfig

    backends = []
    for file in first:
        try:
            backends.append(ConfigFile.from_path(file))
        except OSError:
            pass
    backends.extend(StackedConfig.default_backends())
    stack = StackedConfig(backends)
    found = {}
    for attr in ("name", "email"):
        try:
            found[attr] = stack.get((b"user",), attr.encode()).decode("utf-8", "replace")
        except KeyError:
            continue
    return found


def user_config_files() -> list[str]:
    """The global and system configuration files, as git (and dulwich) look for them."""
    if "GIT_CONFIG_GLOBAL" in os.environ:
        files = [os.environ["GIT_CONFIG_GLOBAL"]]
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        files = [os.path.expanduser("~/.gitconfig"), os.path.join(xdg, "git", "config")]
    if "GIT_CONFIG_SYSTEM" in os.environ:
        files.append(os.environ["GIT_CONFIG_SYSTEM"])
    elif "GIT_CONFIG_NOSYSTEM" not in os.environ:
        files.append("/etc/gitconfig")
    return files


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def _recent(stamp: list[int] | None) -> bool:
    """Changed within the last seconds: it could change again without its stamp changing."""
    return stamp is not None and max(stamp[0], stamp[1]) > time.time_ns() - 3 * 10**9
