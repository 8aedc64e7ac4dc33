"""Queries about memberships: organizations' groups, their members and packages, collaborators,
notifications. (Split from ``repositories.py`` by area; the same rule holds: the only ``select()``s.)"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from packyard.storage.db.models import Collaborator, Group, GroupMember, GroupPackage, Notification, Owner, Package


def member_groups(s: Session, org_id: int, user_id: int) -> Sequence[Group]:
    return s.scalars(
        select(Group).join(GroupMember, GroupMember.group_id == Group.id)
        .where(Group.org_id == org_id, GroupMember.user_id == user_id)
    ).all()


def group_package_ids(s: Session, group_ids: Sequence[int]) -> set[int]:
    if not group_ids:
        return set()
    return set(s.scalars(select(GroupPackage.package_id).where(GroupPackage.group_id.in_(group_ids))).all())


def collaborations(s: Session, owner_id: int, user_id: int) -> set[int]:
    """Ids of the owner's packages on which the user is a collaborator."""
    return set(
        s.scalars(
            select(Collaborator.package_id).join(Package, Package.id == Collaborator.package_id)
            .where(Package.owner_id == owner_id, Collaborator.user_id == user_id)
        ).all()
    )


def groups_of_org(s: Session, org_id: int) -> Sequence[Group]:
    return s.scalars(select(Group).where(Group.org_id == org_id).order_by(Group.name)).all()


def group(s: Session, org_id: int, name: str) -> Group | None:
    return s.scalar(select(Group).where(Group.org_id == org_id, Group.name == name.lower()))


def group_members(s: Session, group_id: int) -> Sequence[Owner]:
    return s.scalars(
        select(Owner).join(GroupMember, GroupMember.user_id == Owner.id)
        .where(GroupMember.group_id == group_id).order_by(Owner.login)
    ).all()


def group_member(s: Session, group_id: int, user_id: int) -> GroupMember | None:
    return s.get(GroupMember, (group_id, user_id))


def group_packages(s: Session, group_id: int) -> Sequence[Package]:
    return s.scalars(
        select(Package).join(GroupPackage, GroupPackage.package_id == Package.id)
        .where(GroupPackage.group_id == group_id).order_by(Package.name_key)
    ).all()


def group_package(s: Session, group_id: int, package_id: int) -> GroupPackage | None:
    return s.get(GroupPackage, (group_id, package_id))


def orgs_of_user(s: Session, user_id: int) -> Sequence[Owner]:
    return s.scalars(
        select(Owner).join(Group, Group.org_id == Owner.id).join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id).distinct().order_by(Owner.login)
    ).all()


def collaborators_of(s: Session, package_id: int) -> Sequence[Owner]:
    return s.scalars(
        select(Owner).join(Collaborator, Collaborator.user_id == Owner.id)
        .where(Collaborator.package_id == package_id).order_by(Owner.login)
    ).all()


def collaborator(s: Session, package_id: int, user_id: int) -> Collaborator | None:
    return s.get(Collaborator, (package_id, user_id))


def notifications_of(s: Session, user_id: int) -> Sequence[Notification]:
    return s.scalars(
        select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc())
    ).all()


def all_users(s: Session) -> Sequence[Owner]:
    return s.scalars(select(Owner).where(Owner.kind == "user").order_by(Owner.login)).all()
