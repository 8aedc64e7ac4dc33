"""Organizations, their groups, package collaborators, transfers and notifications."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from packyard.domain import names
from packyard.domain.permissions import Action, Principal
from packyard.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from packyard.services import files, indexing
from packyard.services.access import require
from packyard.services.packages import PackageService, get_owner, get_package
from packyard.services.uow import UnitOfWork
from packyard.storage.db import memberships as members
from packyard.storage.db import repositories as repo
from packyard.storage.db.models import (
    Collaborator,
    FileLabel,
    Group,
    GroupMember,
    GroupPackage,
    Notification,
    Owner,
    Package,
)

OWNERS_GROUP = "owners"
PERMISSIONS = ("read", "write", "admin")


def _get_org(s: Session, login: str) -> Owner:
    org = get_owner(s, login)
    if org.kind != "org":
        raise NotFound(f"organization {login!r} does not exist")
    return org


def _get_user(s: Session, login: str) -> Owner:
    user = get_owner(s, login)
    if user.kind != "user":
        raise InvalidInput(f"{login!r} is an organization, not a user")
    return user


def _notify(s: Session, user_id: int, message: str) -> None:
    s.add(Notification(user_id=user_id, message=message))


class OrgService:
    def __init__(self, uow: Callable[..., UnitOfWork], packages: PackageService) -> None:
        self._uow = uow
        self._packages = packages

    # -- organizations ----------------------------------------------------------------------------------

    def create(self, principal: Principal | None, login: str, owner_login: str | None = None) -> Owner:
        """Create an organization owned by ``owner_login`` (default: the caller). ``principal`` None means the
        server's own command line, which may name any owner."""
        login = names.check_login(login)
        with self._uow(write=True) as uow:
            s = uow.session
            if principal is not None:
                caller = _get_user(s, principal.login or "") if principal.authenticated else None
                if caller is None:
                    raise Unauthenticated("log in to create an organization")
                require(s, principal, Action.ADMIN, caller)
                owner_login = owner_login or caller.login
                if owner_login != caller.login and not principal.is_superuser:
                    raise InvalidInput("you can only create an organization that you own")
            if owner_login is None:
                raise InvalidInput("an organization needs an owner")
            owner = _get_user(s, owner_login)
            if repo.owner_by_login(s, login) is not None:
                raise AlreadyExists(f"user or organization {login!r} already exists")
            org = Owner(login=login, kind="org")
            s.add(org)
            s.flush()
            group = Group(org_id=org.id, name=OWNERS_GROUP, permission="admin")
            s.add(group)
            s.flush()
            s.add(GroupMember(group_id=group.id, user_id=owner.id))
            _notify(s, owner.id, f"You are an owner of the new organization {login}")
            return org

    def delete(self, principal: Principal, login: str, confirm: str | None) -> None:
        """Delete an organization with all its packages; ``confirm`` must repeat its name."""
        with self._uow(write=True) as uow:
            s = uow.session
            org = _get_org(s, login)
            require(s, principal, Action.ADMIN, org)
            if confirm != org.login:
                raise InvalidInput(f"to delete {org.login}, send its name as confirmation: {{\"confirm\": \"{org.login}\"}}")
            for package in repo.packages_of(s, org.id):
                self._packages.delete_in(uow, package)
            s.delete(org)

    def orgs_of(self, login: str) -> list[Owner]:
        with self._uow() as uow:
            user = get_owner(uow.session, login)
            return list(members.orgs_of_user(uow.session, user.id))

    # -- groups -----------------------------------------------------------------------------------------

    def groups(self, principal: Principal, org_login: str) -> list[tuple[Group, list[Owner]]]:
        with self._uow() as uow:
            s = uow.session
            org = _get_org(s, org_login)
            require(s, principal, Action.ADMIN, org)
            return [(g, list(members.group_members(s, g.id))) for g in members.groups_of_org(s, org.id)]

    def _group(self, s: Session, principal: Principal, org_login: str, name: str) -> tuple[Owner, Group]:
        org = _get_org(s, org_login)
        require(s, principal, Action.ADMIN, org)
        group = members.group(s, org.id, name)
        if group is None:
            raise NotFound(f"group {org.login}/{name} does not exist")
        return org, group

    def group(self, principal: Principal, org_login: str, name: str) -> tuple[Group, list[Owner], list[Package]]:
        with self._uow() as uow:
            s = uow.session
            _, group = self._group(s, principal, org_login, name)
            return group, list(members.group_members(s, group.id)), list(members.group_packages(s, group.id))

    def create_group(self, principal: Principal, org_login: str, name: str, permission: str) -> Group:
        if permission not in PERMISSIONS:
            raise InvalidInput(f"permission must be one of {', '.join(PERMISSIONS)}")
        name = names.check_login(name)
        with self._uow(write=True) as uow:
            s = uow.session
            org = _get_org(s, org_login)
            require(s, principal, Action.ADMIN, org)
            if members.group(s, org.id, name) is not None:
                raise AlreadyExists(f"group {org.login}/{name} already exists")
            group = Group(org_id=org.id, name=name, permission=permission)
            s.add(group)
            return group

    def add_member(self, principal: Principal, org_login: str, name: str, user_login: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            org, group = self._group(s, principal, org_login, name)
            user = _get_user(s, user_login)
            if members.group_member(s, group.id, user.id) is None:
                s.add(GroupMember(group_id=group.id, user_id=user.id))
                _notify(s, user.id, f"You were added to group {group.name} ({group.permission}) of {org.login}")
            indexing.touch_owner(s, org.id)

    def remove_member(self, principal: Principal, org_login: str, name: str, user_login: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            org, group = self._group(s, principal, org_login, name)
            user = get_owner(s, user_login)
            member = members.group_member(s, group.id, user.id)
            if member is None:
                raise NotFound(f"{user.login} is not a member of {org.login}/{group.name}")
            if group.name == OWNERS_GROUP and len(members.group_members(s, group.id)) == 1:
                raise InvalidInput(f"{user.login} is the last owner of {org.login}; add another owner first")
            s.delete(member)
            indexing.touch_owner(s, org.id)

    def is_member(self, principal: Principal, org_login: str, name: str, user_login: str) -> bool:
        with self._uow() as uow:
            s = uow.session
            _, group = self._group(s, principal, org_login, name)
            user = get_owner(s, user_login)
            return members.group_member(s, group.id, user.id) is not None

    def add_package(self, principal: Principal, org_login: str, name: str, package_name: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            org, group = self._group(s, principal, org_login, name)
            package = repo.package(s, org.id, package_name)
            if package is None:
                raise NotFound(f"Package {org.login}/{package_name} does not exist")
            if members.group_package(s, group.id, package.id) is None:
                s.add(GroupPackage(group_id=group.id, package_id=package.id))
            indexing.touch_owner(s, org.id)

    def remove_package(self, principal: Principal, org_login: str, name: str, package_name: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            org, group = self._group(s, principal, org_login, name)
            package = repo.package(s, org.id, package_name)
            link = members.group_package(s, group.id, package.id) if package else None
            if link is None:
                raise NotFound(f"Package {org.login}/{package_name} is not in group {group.name}")
            s.delete(link)
            indexing.touch_owner(s, org.id)

    # -- collaborators ----------------------------------------------------------------------------------

    def collaborators(self, principal: Principal, owner_login: str, package_name: str) -> list[Owner]:
        with self._uow() as uow:
            _, package = get_package(uow.session, principal, owner_login, package_name)
            return list(members.collaborators_of(uow.session, package.id))

    def add_collaborator(self, principal: Principal, owner_login: str, package_name: str, user_login: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            owner, package = get_package(s, principal, owner_login, package_name, Action.ADMIN)
            user = _get_user(s, user_login)
            if members.collaborator(s, package.id, user.id) is None:
                s.add(Collaborator(package_id=package.id, user_id=user.id))
                _notify(s, user.id, f"You are now a collaborator on {owner.login}/{package.name}")
            indexing.touch_owner(s, owner.id)

    def remove_collaborator(self, principal: Principal, owner_login: str, package_name: str, user_login: str
                            ) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            owner, package = get_package(s, principal, owner_login, package_name, Action.ADMIN)
            user = get_owner(s, user_login)
            link = members.collaborator(s, package.id, user.id)
            if link is None:
                raise NotFound(f"{user.login} is not a collaborator on {owner.login}/{package.name}")
            s.delete(link)
            indexing.touch_owner(s, owner.id)

    # -- transfer ---------------------------------------------------------------------------------------

    def transfer(self, principal: Principal, owner_login: str, package_name: str, to_login: str) -> Package:
        """Move a package, its files and labels to an organization the caller administers. The old channel
        stops listing it and the new one lists it, in the same transaction."""
        with self._uow(write=True) as uow:
            s = uow.session
            owner, package = get_package(s, principal, owner_login, package_name, Action.ADMIN)
            target = _get_org(s, to_login)
            require(s, principal, Action.ADMIN, target)
            if repo.package(s, target.id, package.name) is not None:
                raise AlreadyExists(f"Package {target.login}/{package.name} already exists")
            for f in repo.files_of_package(s, package.id):
                labels = [label.name for label in f.labels]
                indexing.unpublish(s, f, labels)
                for link in repo.file_label_links(s, f.id):
                    s.delete(link)
                s.flush()
                f.owner_id = target.id
                for label_name in labels:
                    label = files.label_for(s, target, label_name)
                    s.add(FileLabel(file_id=f.id, label_id=label.id))
                s.flush()
                s.expire(f, ["labels"])
                indexing.publish(s, f, labels)
            package.owner_id = target.id
            s.flush()
            s.expire(package, ["owner"])
            return package

    # -- notifications ----------------------------------------------------------------------------------

    def notifications(self, principal: Principal) -> list[Notification]:
        with self._uow() as uow:
            if principal.user_id is None:
                raise Unauthenticated("log in to read your notifications")
            return list(members.notifications_of(uow.session, principal.user_id))
