"""Access decisions for every surface: gather the caller's relations to a namespace (``Grants``) and ask
``domain.permissions.can``. Adapters never decide access; services call ``require`` or ``readable``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from packyard.domain.permissions import Action, Grants, Principal, Resource, can, missing_scope
from packyard.errors import NotFound, PermissionDenied, Unauthenticated
from packyard.storage.db import memberships as members
from packyard.storage.db.models import Owner, Package


@dataclass(frozen=True)
class NamespaceGrants:
    """Everything the caller holds in one namespace, gathered with a few queries."""

    admin: bool = False
    write: bool = False
    read_ids: frozenset[int] = frozenset()
    write_ids: frozenset[int] = frozenset()

    def for_package(self, package_id: int | None) -> Grants:
        return Grants(
            namespace_admin=self.admin,
            namespace_write=self.write,
            package_read=package_id in self.read_ids,
            package_write=package_id in self.write_ids,
        )


def namespace_grants(s: Session, principal: Principal, owner: Owner) -> NamespaceGrants:
    if principal.user_id is None:
        return NamespaceGrants()
    if principal.acts_for_id is not None:  # an organization token acts as the organization, nothing more
        return NamespaceGrants(admin=principal.acts_for_id == owner.id)
    if owner.id == principal.user_id:
        return NamespaceGrants(admin=True)
    collab = members.collaborations(s, owner.id, principal.user_id)
    if owner.kind != "org":
        return NamespaceGrants(write_ids=frozenset(collab))
    groups = members.member_groups(s, owner.id, principal.user_id)
    admin = any(g.permission == "admin" for g in groups)
    write_groups = [g.id for g in groups if g.permission == "write"]
    read_groups = [g.id for g in groups if g.permission == "read"]
    return NamespaceGrants(
        admin=admin,
        write=bool(write_groups),
        read_ids=frozenset(members.group_package_ids(s, read_groups)),
        write_ids=frozenset(members.group_package_ids(s, write_groups) | collab),
    )


def readable(principal: Principal, owner: Owner, grants: NamespaceGrants, package_id: int, access: str) -> bool:
    return can(principal, Action.READ, Resource(owner.id, access), grants.for_package(package_id))


def require(s: Session, principal: Principal, action: Action, owner: Owner, package: Package | None = None,
            grants: NamespaceGrants | None = None) -> None:
    """Raise unless the caller may do ``action``. A package the caller may not read is reported exactly as a
    missing one, so private names never leak; a token without the needed scope is told which scope."""
    grants = grants if grants is not None else namespace_grants(s, principal, owner)
    resource = Resource(owner_id=owner.id, package_access=package.access if package else None)
    if can(principal, action, resource, grants.for_package(package.id if package else None)):
        return
    # Visibility is judged with the user's full rights first: a scope refusal would reveal a hidden package.
    unscoped = replace(principal, scopes=frozenset())
    if package is not None and not can(unscoped, Action.READ, resource, grants.for_package(package.id)):
        raise NotFound(f"Package {owner.login}/{package.name} does not exist")
    scope = missing_scope(principal, action)
    if scope is not None:
        raise PermissionDenied(f"token lacks scope {scope}")
    if not principal.authenticated:
        raise Unauthenticated("authentication required: log in with `anaconda login` or pass a token")
    target = f"{owner.login}/{package.name}" if package else f"namespace {owner.login}"
    if principal.acts_for_id is not None:  # not "alice may not write namespace alice": say whose token it is
        org = s.get(Owner, principal.acts_for_id)
        raise PermissionDenied(f"this token acts for {org.login if org else 'an organization'} only: "
                               f"it may not {action.value} {target}")
    raise PermissionDenied(f"{principal.login} may not {action.value} {target}")
