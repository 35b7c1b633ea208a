"""The content-addressed store: objects named by their sha256, moved in streamed chunks.

Objects land first in a local folder: the store itself when it is a folder, else a cache
under ``.git/ledger/storage/`` that uploads (``ledger push``) send on. Every byte read back is
hashed on the way and compared with its name: a missing or corrupt object is a
:class:`StorageError`, never wrong bytes. Hashing runs in a second thread, overlapping the
copy (hashlib and file I/O release the GIL), so ingesting costs about one copy.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ledger.errors import StorageError
from ledger.storage.config import StorageConfig
from ledger.storage.pointer import Pointer
from ledger.store.files import replacing

CHUNK = 8 * 1024 * 1024
WORKERS = 8
Progress = Callable[[int, int], None]  # (bytes done, bytes in all), called as bytes move


@dataclass(frozen=True)
class Uploaded:
    """What an upload did: objects sent and their bytes, objects the store had already."""

    sent: int = 0
    bytes: int = 0
    present: int = 0


class ContentStore:
    def __init__(self, config: StorageConfig, cache: Path) -> None:
        self.config = config
        self.landing = config.folder if config.is_local else cache
        self._fs: Any = None
        self._root = ""

    @property
    def url(self) -> str:
        return self.config.url

    # -- writing ------------------------------------------------------------------------------
    def ingest(self, src: Path) -> Pointer:
        """Copy ``src`` into the landing folder under its sha256; its pointer."""
        self.landing.mkdir(parents=True, exist_ok=True)
        tmp = self.landing / f".in-{os.urandom(8).hex()}.tmp"
        try:
            digest, size = copy_file_hashing(src, tmp)
            found = Pointer(digest, size)
            target = self.landing / found.key
            if target.is_file() and target.stat().st_size == size:
                tmp.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            return found
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot store {src} in {self.landing}: {exc.strerror}") from None

    def upload(self, pointers: Iterable[Pointer], progress: Progress | None = None,
               workers: int = WORKERS) -> Uploaded:
        """Send the objects the remote store lacks, in parallel; nothing to do for a folder."""
        wanted = {p.sha256: p for p in pointers}
        if self.config.is_local:
            for p in wanted.values():
                if not (self.landing / p.key).is_file():
                    raise self._missing(p, "the store")
            return Uploaded(present=len(wanted))
        with ThreadPoolExecutor(workers) as pool:
            exists = list(pool.map(self._remote_has, wanted.values()))
            todo = [p for p, there in zip(wanted.values(), exists) if not there]
            for p in todo:
                if not (self.landing / p.key).is_file():
                    raise self._missing(p, "this machine's cache")
            total = sum(p.size for p in todo)
            done = [0]
            lock = threading.Lock()

            def moved(n: int) -> None:
                with lock:
                    done[0] += n
                    if progress is not None:
                        progress(done[0], total)

            list(pool.map(lambda p: self._put(p, moved), todo))
        return Uploaded(len(todo), total, len(wanted) - len(todo))

    # -- reading ------------------------------------------------------------------------------
    def fetch(self, p: Pointer) -> Path:
        """A local file holding ``p``'s bytes (downloaded into the cache when needed)."""
        local = self.landing / p.key
        if local.is_file():
            return local
        if self.config.is_local:
            raise self._missing(p, "the store")
        with replacing(local) as tmp:  # appears only whole and verified
            with self._remote_open(p, "rb") as fin, open(tmp, "wb", buffering=0) as fout:
                digest, size = copy_hashing(fin, fout)
            self._check(p, digest, size)
        return local

    def read(self, p: Pointer) -> bytes:
        """The object's bytes, verified."""
        with open(self.fetch(p), "rb") as f:
            data = f.read()
        self._check(p, hashlib.sha256(data).hexdigest(), len(data))
        return data

    def copy_to(self, p: Pointer, dst: Path) -> None:
        """Write the object to ``dst`` (a new file), verified: on a mismatch ``dst`` is removed."""
        try:
            digest, size = copy_file_hashing(self.fetch(p), dst)
            self._check(p, digest, size)
        except BaseException:
            dst.unlink(missing_ok=True)
            raise

    def _check(self, p: Pointer, digest: str, size: int) -> None:
        if digest != p.sha256 or size != p.size:
            raise StorageError(
                f"object sha256:{p.sha256} in {self.url} is corrupt ({size} bytes hashing to "
                f"{digest[:12]}…, expected {p.size} bytes): restore it from another copy or "
                "log the file again")

    def _missing(self, p: Pointer, where: str) -> StorageError:
        return StorageError(
            f"object sha256:{p.sha256} ({p.size} bytes) is missing from {where} "
            f"({self.url}): push from the machine that logged it (`ledger push`)")

    # -- the remote (fsspec) ------------------------------------------------------------------
    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            try:
                import fsspec
            except ImportError:
                raise StorageError("a store at a URL needs fsspec (and s3fs for s3://): "
                                   "pip install 'ledger[storage]'") from None
            try:
                self._fs, self._root = fsspec.core.url_to_fs(self.url)
            except (ImportError, ValueError) as exc:
                raise StorageError(f"cannot open the store {self.url}: {exc}") from None
        return self._fs, self._root.rstrip("/")

    @contextmanager
    def _remote(self, p: Pointer, what: str) -> Iterator[None]:
        try:
            yield
        except StorageError:
            raise
        except FileNotFoundError:
            raise self._missing(p, "the store") from None
        except Exception as exc:  # botocore, aiohttp, ...: one line, not a traceback
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise StorageError(f"cannot {what} sha256:{p.sha256[:12]}… at {self.url}: "
                               f"{text}") from None

    def _remote_has(self, p: Pointer) -> bool:
        fs, root = self._filesystem()
        with self._remote(p, "look up"):
            try:
                return int(fs.info(f"{root}/{p.key}").get("size", -1)) == p.size
            except FileNotFoundError:
                return False
        return False  # pragma: no cover - mypy: the context manager may swallow

    @contextmanager
    def _remote_open(self, p: Pointer, mode: str) -> Iterator[IO[bytes]]:
        fs, root = self._filesystem()
        with self._remote(p, "read" if mode == "rb" else "write"):
            with fs.open(f"{root}/{p.key}", mode, block_size=CHUNK) as f:
                yield f

    def _put(self, p: Pointer, moved: Callable[[int], None]) -> None:
        # an S3 object appears only whole; elsewhere a torn write is caught on read by its hash
        with open(self.landing / p.key, "rb", buffering=0) as fin, \
                self._remote_open(p, "wb") as fout:
            while chunk := fin.read(CHUNK):
                fout.write(chunk)
                moved(len(chunk))


def copy_file_hashing(src: Path, dst: Path) -> tuple[str, int]:
    """Copy a file to a new file; the sha256 (hex) and size of what was written.

    The kernel copies (``copy_file_range``, as ``cp`` does: no bytes through Python) while a
    second thread hashes what has just been written, read back from the page cache, so the
    digest is the digest of the copy. Where the kernel cannot copy, chunks go through here.
    """
    with open(src, "rb", buffering=0) as fin, open(dst, "wb", buffering=0) as fout:
        if not hasattr(os, "copy_file_range"):
            return copy_hashing(fin, fout)
        h = hashlib.sha256()
        size = 0
        buffer = memoryview(bytearray(CHUNK))
        with open(dst, "rb", buffering=0) as back, ThreadPoolExecutor(1) as hasher:
            pending: Future[None] | None = None
            while True:
                try:
                    n = os.copy_file_range(fin.fileno(), fout.fileno(), CHUNK)
                except OSError:  # another file system, an old kernel: copy in Python
                    if pending is not None:
                        pending.result()
                    rest_digest = _finish_in_python(fin, fout, back, h)
                    return rest_digest, size + _tail_size(fout, size)
                if n == 0:
                    break
                if pending is not None:
                    pending.result()
                pending = hasher.submit(_hash_back, h, back, n, buffer)
                size += n
            if pending is not None:
                pending.result()
        return h.hexdigest(), size


def _hash_back(h: Any, back: Any, n: int, buffer: memoryview) -> None:
    while n > 0:
        got = back.readinto(buffer[:n])  # one buffer for the whole copy: no 8 MB allocations
        if not got:
            raise OSError("the copy is shorter than what was written")
        h.update(buffer[:got])
        n -= got


def _finish_in_python(fin: Any, fout: Any, back: Any, h: Any) -> str:
    while chunk := fin.read(CHUNK):
        fout.write(chunk)
        h.update(chunk)
    return str(h.hexdigest())


def _tail_size(fout: Any, done: int) -> int:
    return int(os.fstat(fout.fileno()).st_size) - done


def copy_hashing(fin: Any, fout: Any) -> tuple[str, int]:
    """Copy one stream to another in chunks; the sha256 (hex) and size of what passed."""
    h = hashlib.sha256()
    size = 0
    with ThreadPoolExecutor(1) as hasher:
        pending: Future[None] | None = None
        while chunk := fin.read(CHUNK):
            if pending is not None:
                pending.result()
            pending = hasher.submit(h.update, chunk)
            fout.write(chunk)
            size += len(chunk)
        if pending is not None:
            pending.result()
    return h.hexdigest(), size
