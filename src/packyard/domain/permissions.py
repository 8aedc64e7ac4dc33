"""Who may do what: one function, ``can``, that every surface asks through ``services/access.py``
(pure; no database). The service layer gathers the facts (``Grants``); this module decides."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Action(enum.Enum):
    READ = "read"  # see a package, its files and indexes; download
    WRITE = "write"  # upload into a package (or create one in a namespace), change its metadata and labels
    DELETE = "delete"  # remove files and releases
    ADMIN = "admin"  # remove or transfer a package, change its access, manage collaborators and groups


class Surface(enum.Enum):
    """The protocol a request came through; token scopes are per surface."""

    API = "api"
    CONDA = "conda"
    PYPI = "pypi"


SCOPES: dict[str, str] = {
    "all": "Full access: everything the user may do, on every surface",
    "api": "The anaconda API, read and write (upload, change, remove)",
    "api:read": "Read through the anaconda API: packages, files, users, labels, download",
    "api:write": "Write through the anaconda API: upload, change and remove packages and files",
    "repos": "Read and write packages on every surface (API, conda channels, PyPI indexes)",
    "conda": "Conda channels: read indexes and download packages",
    "conda:download": "Conda channels: read indexes and download packages",
    "pypi": "PyPI indexes: install and upload Python packages",
    "pypi:upload": "PyPI indexes: upload Python packages (twine, uv publish)",
    "pypi:download": "PyPI indexes: install Python packages (pip, uv)",
}

# (surface, reading?) → (the scope named in an error, every scope that allows it)
_SCOPE_RULES: dict[tuple[Surface, bool], tuple[str, frozenset[str]]] = {
    (Surface.API, True): ("api:read", frozenset({"all", "api", "api:read", "api:write", "repos"})),
    (Surface.API, False): ("api:write", frozenset({"all", "api", "api:write", "repos"})),
    (Surface.CONDA, True): ("conda:download", frozenset({"all", "conda", "conda:download", "repos"})),
    (Surface.CONDA, False): ("api:write", frozenset({"all", "api", "api:write", "repos"})),
    (Surface.PYPI, True): ("pypi:download", frozenset({"all", "pypi", "pypi:download", "repos"})),
    (Surface.PYPI, False): ("pypi:upload", frozenset({"all", "pypi", "pypi:upload", "repos"})),
}


@dataclass(frozen=True)
class Principal:
    """The caller: a user (possibly through a token, possibly acting for an organization) or nobody."""

    user_id: int | None = None
    login: str | None = None
    is_superuser: bool = False
    scopes: frozenset[str] = field(default_factory=frozenset)  # empty: the user's full rights
    token_id: int | None = None
    acts_for_id: int | None = None  # an organization token: acts as that organization only
    surface: Surface = Surface.API

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    def on(self, surface: Surface) -> Principal:
        return self if surface is self.surface else replace(self, surface=surface)


ANONYMOUS = Principal()


def missing_scope(principal: Principal, action: Action) -> str | None:
    """The scope a token lacks for this action on the principal's surface, or None."""
    if not principal.scopes:
        return None
    name, allowed = _SCOPE_RULES[(principal.surface, action is Action.READ)]
    return None if principal.scopes & allowed else name


@dataclass(frozen=True)
class Grants:
    """The caller's relations to one namespace and one package in it, gathered by the service layer."""

    namespace_admin: bool = False  # the caller's own namespace, or an owner/admin of the organization
    namespace_write: bool = False  # may create packages there (member of a read-write group)
    package_read: bool = False  # a group that lists the package
    package_write: bool = False  # a read-write group that lists it, or a collaborator


NO_GRANTS = Grants()


@dataclass(frozen=True)
class Resource:
    """What is acted on: a namespace (``package_access`` None) or a package in it."""

    owner_id: int
    package_access: str | None = None  # "public" | "authenticated" | "private"


def can(principal: Principal, action: Action, resource: Resource, grants: Grants = NO_GRANTS) -> bool:
    """The access rule of packyard, for every surface and action."""
    if missing_scope(principal, action) is not None:
        return False
    if principal.is_superuser and principal.acts_for_id is None:
        return True
    if action is Action.READ:
        if resource.package_access in (None, "public"):
            return True
        if resource.package_access == "authenticated" and principal.authenticated:
            return True
        return grants.namespace_admin or grants.package_read or grants.package_write
    if grants.namespace_admin:
        return True
    if resource.package_access is None:  # creating a package in the namespace
        return action is Action.WRITE and grants.namespace_write
    if action in (Action.WRITE, Action.DELETE):
        return grants.package_write
    return False
