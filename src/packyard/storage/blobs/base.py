"""The blob-store interface. Blobs are content-addressed by their sha256, so a retried upload writes the
same key and a key is never overwritten with other bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


class BlobNotFound(FileNotFoundError):
    """No blob under that key (every backend raises this, never its vendor's error)."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    md5: str
    size: int
    blake2_256: str = ""


class BlobStore(Protocol):
    def put(self, fileobj: BinaryIO, verify: Callable[[StoredBlob], None] | None = None) -> StoredBlob:
        """Stream ``fileobj`` into the store under its sha256; return its digests and size. ``verify`` sees
        the digests before the blob becomes visible; if it raises, nothing is stored."""

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading; raise ``BlobNotFound``."""

    def iter_chunks(self, sha256: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Yield a blob's bytes in chunks; raise ``BlobNotFound`` before the first chunk."""

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored under that key."""

    def local_path(self, sha256: str) -> str | None:
        """A filesystem path to serve the blob from directly, when the backend has one."""

    def delete(self, sha256: str) -> None:
        """Remove a blob; a missing blob is not an error."""


class Digests:
    """md5 + sha256 + blake2b-256 + size of a stream, computed in one pass (the digests the anaconda CLI,
    conda, pip and twine check)."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._blake2 = hashlib.blake2b(digest_size=32)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self._sha256.update(chunk)
        self._blake2.update(chunk)
        self.size += len(chunk)

    def result(self) -> StoredBlob:
        return StoredBlob(sha256=self._sha256.hexdigest(), md5=self._md5.hexdigest(), size=self.size,
                          blake2_256=self._blake2.hexdigest())


def valid_key(sha256: str) -> bool:
    return len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256)
