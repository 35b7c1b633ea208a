"""Trees made as bytes (store/tree_entries.py, store/trees.py) are the trees git makes:
same ids as `git mktree`, git's order for names that sort differently as folders, and
`git fsck --strict` clean after edits that add, replace and delete at every depth."""

from __future__ import annotations

import random
from pathlib import Path

from ledger.store import trees
from ledger.store.objects import FILE_MODE, ObjectStore, Written, blob
from ledger.store.tree_entries import TreeEntries
from tests.conftest import git

# the folder "a" sorts as "a/": after "a-" and "a.b" (and "a-b/" after "a-"), before "a0"
NAMES = ["a-", "a.b", "a0", "b", "ab", "a b", "ü", "Z", "_x", "a/b/c", "a/b-", "a-b/y"]


def mktree(repo: Path, entries: list[tuple[int, str, bytes]]) -> bytes:
    lines = "".join(
        f"{mode:06o} {'tree' if mode == 0o040000 else 'blob'} {sha.decode()}\t{name}\n"
        for mode, name, sha in entries)
    return git(repo, "mktree", input=lines).stdout.strip().encode()


def store_of(repo: Path) -> ObjectStore:
    return ObjectStore(repo / ".git" / "objects")


def test_ids_and_order_are_git_s(repo: Path) -> None:
    store = store_of(repo)
    out: list[Written] = []
    files = {}
    for i, name in enumerate(NAMES):
        data = blob(f"{i}\n".encode())
        out.append(data)
        files[name] = (FILE_MODE, data.id)
    root = trees.build(files, out)
    store.add(out)
    # every tree is the one git makes from the same listing
    for line in git(repo, "ls-tree", "-r", "-t", root.decode()).stdout.splitlines():
        meta, path = line.split("\t")
        mode, kind, sha = meta.split()
        if kind == "tree":
            listing = [(int(m, 8), n, s.encode()) for m, _k, s, n in (
                (*x.split("\t")[0].split(), x.split("\t")[1])
                for x in git(repo, "ls-tree", sha).stdout.splitlines())]
            assert mktree(repo, listing) == sha.encode()
    listed = git(repo, "ls-tree", "-r", "-z", "--name-only", root.decode()).stdout.split("\0")[:-1]
    assert sorted(listed) == sorted(NAMES)
    git(repo, "fsck", "--strict")


def test_random_edits_stay_valid(repo: Path) -> None:
    rng = random.Random(7)
    store = store_of(repo)
    expected: dict[str, bytes] = {}
    root: bytes | None = None
    for round_ in range(60):
        out: list[Written] = []
        changes: dict[str, tuple[int, bytes] | None] = {}
        for _ in range(rng.randint(1, 6)):
            path = "/".join(rng.choice(["r", "s", "a-b", "a", "ab"]) + str(rng.randint(0, 3))
                            for _ in range(rng.randint(1, 3)))
            if expected and rng.random() < 0.3:
                path = rng.choice(sorted(expected))
                changes[path] = None
                continue
            taken = [*expected, *(p for p, c in changes.items() if c is not None)]
            if any(p.startswith(path + "/") or path.startswith(p + "/") for p in taken):
                continue  # a file where a folder is (or the reverse): not a valid edit
            data = blob(f"{round_} {path}\n".encode())
            out.append(data)
            changes[path] = (FILE_MODE, data.id)
        for path, change in changes.items():
            if change is None:
                expected.pop(path, None)
            else:
                expected[path] = change[1]
        root = trees.edit(store, root, changes, out)
        store.add(out)
        if root is None:
            assert not expected
            continue
        listed = dict(line.split(" ", 2)[2].split("\t")[::-1] for line in
                      git(repo, "ls-tree", "-r", root.decode()).stdout.splitlines())
        assert {p: s.encode() for p, s in listed.items()} == expected
    git(repo, "fsck", "--strict")


def test_a_damaged_tree_is_refused() -> None:
    for data in (b"100644 a\0" + b"x" * 5, b"nonsense", b"1x0644 a\0" + b"x" * 20):
        try:
            TreeEntries.parse(data)
        except ValueError:
            continue
        raise AssertionError(f"parsed {data!r}")
