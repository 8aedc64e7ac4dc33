"""Who may do what: one function, ``can``, that every surface asks (pure; no database)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Action(enum.Enum):
    READ = "read"  # see a package, its files and indexes; download
    WRITE = "write"  # upload, change metadata, labels
    DELETE = "delete"  # remove a package, release or file


@dataclass(frozen=True)
class Principal:
    """The caller: a user (possibly through a token) or nobody."""

    user_id: int | None = None
    login: str | None = None
    is_superuser: bool = False
    scopes: frozenset[str] = field(default_factory=frozenset)  # empty: the user's full rights
    token_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Principal()


@dataclass(frozen=True)
class Resource:
    """What is acted on: a namespace (``package_access`` None) or a package in it."""

    owner_id: int
    package_access: str | None = None  # "public" | "authenticated" | "private"


def can(principal: Principal, action: Action, resource: Resource) -> bool:
    if principal.is_superuser:
        return True
    is_owner = principal.user_id is not None and principal.user_id == resource.owner_id
    if action is Action.READ:
        if resource.package_access in (None, "public"):
            return True
        if resource.package_access == "authenticated":
            return principal.authenticated
        return is_owner
    return is_owner


SCOPES: dict[str, str] = {
    "all": "Full access: everything the user may do",
    "api": "The whole anaconda API (read and write)",
    "api:read": "Read through the API: packages, files, users, labels",
    "api:write": "Write through the API: upload, change and remove packages and files",
    "repos": "Read and write packages in repositories",
    "conda": "Read conda channels and download conda packages",
    "conda:download": "Download conda packages and channel indexes",
    "pypi": "Read and upload Python packages",
    "pypi:upload": "Upload Python packages (twine, uv publish)",
    "pypi:download": "Install Python packages (pip, uv)",
}
