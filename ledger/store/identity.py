"""Who writes: the committer identity from the user's git configuration."""

from __future__ import annotations

import os

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
        from dulwich.config import ConfigFile, StackedConfig

        backends = []
        try:
            backends.append(ConfigFile.from_path(str(gitdir.common_dir / "config")))
        except OSError:
            pass
        backends.extend(StackedConfig.default_backends())
        stack = StackedConfig(backends)
        for attr, section_key in (("name", b"name"), ("email", b"email")):
            if (name if attr == "name" else email):
                continue
            try:
                value = stack.get((b"user",), section_key).decode("utf-8", "replace")
            except KeyError:
                continue
            if attr == "name":
                name = value
            else:
                email = value
    from ledger.names import host_name, user_name

    configured = bool(name and email)
    name = name or user_name()
    email = email or f"{user_name()}@{host_name()}"
    return f"{name} <{email}>".encode(), configured
