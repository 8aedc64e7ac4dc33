"""Blobs in a local folder: ``<root>/ab/cd/<sha256>``, written to a temp file, fsynced, renamed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from packyard.storage.blobs.base import CHUNK, BlobNotFound, Digests, StoredBlob, valid_key

try:
    import fcntl
except ImportError:  # no flock (Windows): clean_temp falls back to the age of a temp file
    fcntl = None  # type: ignore[assignment]


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if not valid_key(sha256):
            raise BlobNotFound(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, fileobj: BinaryIO, verify: Callable[[StoredBlob], None] | None = None) -> StoredBlob:
        digests = Digests()
        fd, tmp_name = self._locked_temp()
        lock_fd = os.dup(fd)  # holds the writer's lock (see clean_temp) until the temp file is renamed or removed
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := fileobj.read(CHUNK):
                    digests.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            blob = digests.result()
            if verify is not None:
                verify(blob)
            final = self._path(blob.sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)  # atomic: readers see the whole blob or none
            return blob
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        finally:
            os.close(lock_fd)

    def _locked_temp(self) -> tuple[int, str]:
        """A new temp file, flock-ed by this writer; the lock dies with the process, however it dies."""
        while True:
            fd, name = tempfile.mkstemp(dir=self._tmp)
            if fcntl is None:
                return fd, name
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink:
                return fd, name
            os.close(fd)  # clean_temp removed it between mkstemp and flock: take another

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self._path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def iter_chunks(self, sha256: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        fh = self.open(sha256)

        def chunks() -> Iterator[bytes]:
            with fh:
                while chunk := fh.read(chunk_size):
                    yield chunk

        return chunks()

    def exists(self, sha256: str) -> bool:
        try:
            return self._path(sha256).is_file()
        except BlobNotFound:
            return False

    def local_path(self, sha256: str) -> str | None:
        path = self._path(sha256)
        return str(path) if path.is_file() else None

    def clean_temp(self, older_than: float) -> int:
        """Remove temp files left by writers that died (a killed server); return how many. A temp file whose
        writer is alive is locked by it; without flock, files older than ``older_than`` count as dead."""
        import time

        removed = 0
        for path in self._tmp.iterdir():
            try:
                if fcntl is None:
                    if path.stat().st_mtime < time.time() - older_than:
                        path.unlink()
                        removed += 1
                    continue
                with path.open("rb") as fh:
                    try:
                        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a live writer holds it
                    path.unlink()  # still under our lock, so a writer that just created it takes another
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def delete(self, sha256: str) -> None:
        try:
            self._path(sha256).unlink(missing_ok=True)
        except BlobNotFound:
            pass


def blob_store_from_url(url: str) -> LocalBlobStore:
    """Build the store named by ``PACKYARD_STORAGE_URL`` (``file://`` now; ``s3://`` comes later)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalBlobStore(Path(unquote(parsed.path)))
    raise ValueError(f"unsupported storage URL scheme {parsed.scheme!r} (supported: file://)")
