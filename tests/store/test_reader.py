"""The object reader (store/reader.py) reads what git wrote, byte for byte: packs with offset
and reference deltas, index versions 1 and 2 (and 64-bit offsets), loose objects,
alternates, packs that appear while it is open; damage is one clear error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ledger.errors import LedgerError
from ledger.store.objects import ObjectStore
from ledger.store.packs import _index
from ledger.store.reader import ObjectReader, PackIndex
from tests.conftest import git


def history(repo: Path, commits: int = 12) -> None:
    """Files edited over many commits: repacks turn most versions into deltas."""
    for i in range(commits):
        for name in ("train.py", "data/config.json", "README.md"):
            path = repo / name
            path.parent.mkdir(exist_ok=True)
            lines = [f"line {n} of {name}" for n in range(200)]
            lines[i * 7 % 200] = f"changed in commit {i}"
            path.write_text("\n".join(lines) + "\n")
        (repo / f"new-{i}.txt").write_text(f"file {i}\n")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", f"commit {i}")


def every_object(repo: Path) -> dict[bytes, tuple[int, bytes]]:
    """What git itself reads for every object of the repository."""
    ids = git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)",
              text=False).stdout.split()
    out = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch"],
                         input=b"\n".join(ids) + b"\n", capture_output=True, check=True).stdout
    types = {b"commit": 1, b"tree": 2, b"blob": 3, b"tag": 4}
    found, pos = {}, 0
    while pos < len(out):
        header_end = out.index(b"\n", pos)
        sha, kind, size = out[pos:header_end].split()
        start = header_end + 1
        found[sha] = (types[kind], out[start:start + int(size)])
        pos = start + int(size) + 1
    return found


def assert_reads_all(repo: Path) -> None:
    expected = every_object(repo)
    assert len(expected) > 20
    reader = ObjectReader(repo / ".git" / "objects")
    try:
        for sha, value in expected.items():
            assert reader.get_raw(sha) == value, sha
            assert sha in reader
        assert b"0" * 40 not in reader
        with pytest.raises(KeyError):
            reader.get_raw(b"0" * 40)
    finally:
        reader.close()


def deltas(repo: Path) -> str:
    packs = list((repo / ".git" / "objects" / "pack").glob("*.idx"))
    return git(repo, "verify-pack", "-v", *map(str, packs)).stdout


def test_loose_objects(repo: Path) -> None:
    history(repo, 4)
    assert_reads_all(repo)


def test_offset_deltas(repo: Path) -> None:
    history(repo)
    git(repo, "gc", "-q", "--aggressive")
    assert "chain length" in deltas(repo)  # the pack really holds deltas
    assert_reads_all(repo)


def test_reference_deltas_and_index_version_1(repo: Path) -> None:
    history(repo)
    git(repo, "-c", "repack.useDeltaBaseOffset=false", "-c", "pack.indexVersion=1",
        "repack", "-adfq")
    idx = next((repo / ".git" / "objects" / "pack").glob("*.idx")).read_bytes()
    assert idx[:4] != b"\377tOc"  # version 1
    assert "chain length" in deltas(repo)
    assert_reads_all(repo)


def test_alternates(repo: Path, tmp_path: Path) -> None:
    history(repo, 3)
    git(repo, "gc", "-q")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--shared", str(repo), str(clone)], check=True)
    (clone / "x.txt").write_text("only here\n")
    git(clone, "add", "x.txt")
    git(clone, "commit", "-qm", "x")
    assert (clone / ".git" / "objects" / "info" / "alternates").exists()
    assert_reads_all(clone)


def test_a_pack_written_after_the_first_read_is_found(repo: Path) -> None:
    history(repo, 2)
    git(repo, "gc", "-q")
    reader = ObjectReader(repo / ".git" / "objects")
    head = git(repo, "rev-parse", "HEAD").stdout.strip().encode()
    assert reader.get_raw(head)[0] == 1
    history(repo, 1)
    git(repo, "repack", "-dq")  # a second pack, in the same second maybe
    new_head = git(repo, "rev-parse", "HEAD").stdout.strip().encode()
    assert reader.get_raw(new_head)[0] == 1
    reader.close()


def test_64_bit_offsets(tmp_path: Path) -> None:
    ids = [bytes([i]) * 20 for i in range(1, 6)]
    offsets = [12, 5_000_000_000, 0x7FFFFFFF, 0x80000000, 1 << 40]
    path = tmp_path / "pack-x.idx"
    path.write_bytes(_index([(s, 0, o) for s, o in zip(ids, offsets)], b"\0" * 20))
    index = PackIndex(path)
    assert [index.offset(s) for s in ids] == offsets
    assert index.offset(b"\x09" * 20) is None
    index.close()


def test_a_damaged_pack_is_one_clear_error(repo: Path) -> None:
    history(repo, 3)
    git(repo, "gc", "-q")
    pack = next((repo / ".git" / "objects" / "pack").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    for i in range(20, len(data) - 20, 7):  # garble the compressed data, keep the headers
        data[i] ^= 0x55
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    store = ObjectStore(repo / ".git" / "objects")
    head = git(repo, "rev-parse", "HEAD").stdout.strip().encode()
    with pytest.raises(LedgerError) as err:
        store.get(head)
    assert "git fsck" in str(err.value) and "\n" not in str(err.value)
    store.close()


def test_alternates_in_a_cycle_end(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "objects", tmp_path / "b" / "objects"
    for this, other in ((a, b), (b, a)):
        (this / "info").mkdir(parents=True)
        (this / "info" / "alternates").write_text(f"{other}\n")
    reader = ObjectReader(a)
    with pytest.raises(KeyError):
        reader.get_raw(b"1" * 40)
    assert b"1" * 40 not in reader


def test_a_truncated_index_is_damage_not_a_crash(repo: Path) -> None:
    history(repo, 2)
    git(repo, "gc", "-q")
    idx = next((repo / ".git" / "objects" / "pack").glob("*.idx"))
    idx.chmod(0o644)
    idx.write_bytes(idx.read_bytes()[:1500])
    from ledger.store.reader import DamagedPackError

    with pytest.raises(DamagedPackError):
        PackIndex(idx)
    head = git(repo, "rev-parse", "HEAD").stdout.strip().encode()
    with pytest.raises(KeyError):  # the pack is skipped: its objects are not there
        ObjectReader(repo / ".git" / "objects").get_raw(head)


def test_reference_deltas_in_a_cycle_are_one_error(repo: Path) -> None:
    import hashlib
    import struct
    import zlib

    from ledger.store.packs import _header

    a, b = b"\x01" * 20, b"\x02" * 20
    delta = b"\x03\x03\x03abc"  # base of 3 bytes -> "abc"
    body = bytearray(b"PACK" + struct.pack(">II", 2, 2))
    entries = []
    for sha, base in ((a, b), (b, a)):
        chunk = _header(7, len(delta)) + base + zlib.compress(delta)
        entries.append((sha, zlib.crc32(chunk), len(body)))
        body += chunk
    pack_sha = hashlib.sha1(body).digest()
    pack_dir = repo / ".git" / "objects" / "pack"
    pack_dir.mkdir(exist_ok=True)
    (pack_dir / "pack-cycle.pack").write_bytes(bytes(body) + pack_sha)
    (pack_dir / "pack-cycle.idx").write_bytes(_index(entries, pack_sha))
    store = ObjectStore(repo / ".git" / "objects")
    with pytest.raises(LedgerError) as err:
        store.get(a.hex().encode())
    assert "cycle" in str(err.value)
