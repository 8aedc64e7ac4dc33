"""Short-lived signed URLs for blobs: the anaconda CLI follows a download 302 (and posts uploads) with a bare
HTTP client that carries no credentials, so the URL itself is the capability."""

from __future__ import annotations

import hashlib
import hmac
import time


class UrlSigner:
    def __init__(self, key: bytes, ttl: int) -> None:
        self._key = key
        self._ttl = ttl

    def sign(self, sha256: str, filename: str) -> tuple[int, str]:
        expires = int(time.time()) + self._ttl
        return expires, self._mac(sha256, filename, expires)

    def verify(self, sha256: str, filename: str, expires: int, signature: str) -> bool:
        if expires < time.time():
            return False
        return hmac.compare_digest(self._mac(sha256, filename, expires), signature)

    def _mac(self, sha256: str, filename: str, expires: int) -> str:
        msg = f"{sha256}\n{filename}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()
