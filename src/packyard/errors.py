"""Domain errors. Services raise these; only ``adapters/errors.py`` maps them to HTTP statuses."""

from __future__ import annotations


class PackyardError(Exception):
    """Base of every error a user can cause; ``str(err)`` is the message a person reads."""


class NotFound(PackyardError):
    """The thing does not exist, or the caller may not know that it exists."""


class AlreadyExists(PackyardError):
    """A name or file is taken."""


class InvalidInput(PackyardError):
    """A request or an uploaded file is malformed or inconsistent."""


class Unauthenticated(PackyardError):
    """No credentials, or credentials that are wrong, expired or revoked."""


class PermissionDenied(PackyardError):
    """Authenticated, but not allowed to do this."""


class InvalidDigest(InvalidInput):
    """An upload's bytes do not match the checksum or size the client announced."""


class UploadExpired(InvalidInput):
    """A staged upload is unknown, used or expired."""
