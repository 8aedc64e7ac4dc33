"""Token secrets: random, only ``[A-Za-z0-9-]`` (conda extracts ``/t/<token>/`` with that class), stored as a
sha256 (a 256-bit random secret needs no slow hash; passwords get argon2)."""

from __future__ import annotations

import hashlib
import re
import secrets

_TOKEN = re.compile(r"^[A-Za-z0-9-]{8,200}$")


def new_token() -> str:
    return "py-" + secrets.token_hex(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return bool(_TOKEN.match(value))
