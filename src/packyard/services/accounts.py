"""Users, passwords and API tokens; turning credentials into a ``Principal``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from packyard.domain import names
from packyard.domain.permissions import ANONYMOUS, SCOPES, Principal
from packyard.domain.tokens import hash_token, new_token
from packyard.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from packyard.services.access import namespace_grants
from packyard.services.uow import UnitOfWork
from packyard.storage.db import memberships as members
from packyard.storage.db import repositories as repo
from packyard.storage.db.base import utcnow
from packyard.storage.db.models import Owner, Token

_hasher = PasswordHasher()
# Verifying against this keeps a wrong login as slow as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("packyard-dummy-password")


@dataclass(frozen=True)
class TokenRequest:
    name: str
    scopes: list[str]
    max_age: int | None = None
    strength: str = "strong"
    hostname: str | None = None
    acts_for: str | None = None  # an organization login (access-control issue)
    fail_if_exists: bool = True
    is_login: bool = False


class AccountService:
    def __init__(self, uow: Callable[..., UnitOfWork]) -> None:
        self._uow = uow

    # -- users ------------------------------------------------------------------------------------------

    def create_user(self, login: str, password: str, email: str | None = None, superuser: bool = False) -> Owner:
        """Raise ``InvalidInput`` for a bad name or password, ``AlreadyExists`` for a taken name."""
        login = names.check_login(login)
        if len(password) < 8:
            raise InvalidInput("password must be at least 8 characters")
        with self._uow(write=True) as uow:
            if repo.owner_by_login(uow.session, login):
                raise AlreadyExists(f"user or organization {login!r} already exists")
            user = Owner(login=login, kind="user", email=email, is_superuser=superuser,
                         password_hash=_hasher.hash(password))
            uow.session.add(user)
        return user

    def get_owner(self, login: str) -> Owner:
        with self._uow() as uow:
            owner = repo.owner_by_login(uow.session, login)
            if owner is None:
                raise NotFound(f"user {login!r} does not exist")
            return owner

    def authenticate_password(self, login: str, password: str) -> Owner:
        """Raise ``Unauthenticated`` unless the user exists, is enabled and the password matches."""
        with self._uow() as uow:
            user = repo.owner_by_login(uow.session, login)
        try:
            _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            raise Unauthenticated("invalid username or password") from None
        if user is None or user.password_hash is None:
            raise Unauthenticated("invalid username or password")
        if user.is_disabled:
            raise Unauthenticated(f"user {user.login!r} is disabled")
        return user

    # -- tokens -----------------------------------------------------------------------------------------

    def issue_token_for(self, principal: Principal, req: TokenRequest) -> str:
        """A token for the caller. Only a password or a full-rights token may make tokens (a scoped token
        must not mint itself wider ones)."""
        if principal.acts_for_id is not None or (principal.scopes and "all" not in principal.scopes):
            raise PermissionDenied("token lacks scope all: log in with a password to create tokens")
        return self.issue_token(self.current_user(principal), req)

    def issue_token(self, user: Owner, req: TokenRequest) -> str:
        """Create a token and return its secret (shown once). ``AlreadyExists`` when a live token with that
        name exists and ``fail_if_exists`` is set; otherwise the old one is replaced."""
        if not req.name or len(req.name) > 200:
            raise InvalidInput("token name must be 1-200 characters")
        if req.max_age is not None and (not isinstance(req.max_age, int) or req.max_age <= 0):
            raise InvalidInput("max-age must be a positive number of seconds")
        unknown = sorted(set(req.scopes) - set(SCOPES))
        if unknown:
            raise InvalidInput(f"unknown scope {unknown[0]!r}; known scopes: {', '.join(sorted(SCOPES))}")
        secret = new_token()
        with self._uow(write=True) as uow:
            acts_for_id = None
            if req.acts_for:
                org = repo.owner_by_login(uow.session, req.acts_for)
                if org is None:
                    raise NotFound(f"organization {req.acts_for!r} does not exist")
                as_user = Principal(user_id=user.id, login=user.login, is_superuser=user.is_superuser)
                if org.id != user.id and not user.is_superuser and \
                        not namespace_grants(uow.session, as_user, org).admin:
                    raise PermissionDenied(f"{user.login} does not administer {org.login}")
                acts_for_id = org.id
            # Login sessions are not unique by name: the client names them after the OS user and host, which
            # several people (or test HOMEs) can share; each login gets its own token.
            existing = None if req.is_login else repo.token_by_name(uow.session, user.id, req.name, acts_for_id)
            if existing is not None:
                if req.fail_if_exists:
                    raise AlreadyExists(f"a token named {req.name!r} already exists")
                existing.revoked_at = utcnow()
            expires = utcnow() + dt.timedelta(seconds=req.max_age) if req.max_age else None
            uow.session.add(
                Token(user_id=user.id, acts_for_id=acts_for_id, secret_hash=hash_token(secret), name=req.name,
                      scopes=req.scopes, strength=req.strength, hostname=req.hostname, is_login=req.is_login,
                      expires_at=expires)
            )
        return secret

    def principal_for_token(self, secret: str) -> Principal:
        """Raise ``Unauthenticated`` saying exactly why a token is refused (unknown, revoked, expired)."""
        with self._uow() as uow:
            token = repo.token_by_hash(uow.session, hash_token(secret))
            if token is None:
                raise Unauthenticated("invalid token: no such token (it may have been deleted)")
            if token.revoked_at is not None:
                raise Unauthenticated("token revoked")
            if token.expires_at is not None and token.expires_at <= utcnow():
                raise Unauthenticated(f"token expired on {token.expires_at.isoformat(timespec='seconds')}")
            user = uow.session.get(Owner, token.user_id)
            assert user is not None
            if user.is_disabled:
                raise Unauthenticated(f"user {user.login!r} is disabled")
            return Principal(user_id=user.id, login=user.login, is_superuser=user.is_superuser,
                             scopes=frozenset(token.scopes or ()), token_id=token.id,
                             acts_for_id=token.acts_for_id)

    def principal_for_password(self, login: str, password: str) -> Principal:
        user = self.authenticate_password(login, password)
        return Principal(user_id=user.id, login=user.login, is_superuser=user.is_superuser)

    def current_user(self, principal: Principal) -> Owner:
        if principal.user_id is None:
            raise Unauthenticated("authentication required: log in with `anaconda login` or pass a token")
        with self._uow() as uow:
            user = uow.session.get(Owner, principal.user_id)
            assert user is not None
            return user

    def list_tokens(self, principal: Principal) -> list[Token]:
        user = self.current_user(principal)
        with self._uow() as uow:
            return list(repo.tokens_of(uow.session, user.id))

    def current_token(self, principal: Principal) -> Token:
        if principal.token_id is None:
            raise Unauthenticated("this request carries no token")
        with self._uow() as uow:
            token = uow.session.get(Token, principal.token_id)
            assert token is not None
            return token

    def revoke_current(self, principal: Principal) -> None:
        if principal.token_id is None:
            raise Unauthenticated("this request carries no token")
        with self._uow(write=True) as uow:
            token = uow.session.get(Token, principal.token_id)
            if token is not None:
                token.revoked_at = utcnow()

    def revoke_by_name(self, principal: Principal, name: str, org: str | None = None) -> None:
        user = self.current_user(principal)
        with self._uow(write=True) as uow:
            acts_for_id = None
            if org:
                owner = repo.owner_by_login(uow.session, org)
                if owner is None:
                    raise NotFound(f"organization {org!r} does not exist")
                acts_for_id = owner.id
            token = repo.token_by_name(uow.session, user.id, name, acts_for_id)
            if token is None:
                raise NotFound(f"no token named {name!r}")
            token.revoked_at = utcnow()


__all__ = ["ANONYMOUS", "AccountService", "TokenRequest"]


class UserAdminService:
    """What a superuser does from the server's command line."""

    def __init__(self, uow: Callable[..., UnitOfWork]) -> None:
        self._uow = uow

    def list(self) -> list[Owner]:
        with self._uow() as uow:
            return list(members.all_users(uow.session))

    def _user(self, uow: UnitOfWork, login: str) -> Owner:
        user = repo.owner_by_login(uow.session, login)
        if user is None or user.kind != "user":
            raise NotFound(f"user {login!r} does not exist")
        return user

    def set_disabled(self, login: str, disabled: bool = True) -> None:
        """A disabled user's tokens stop working at once (they are checked on every request)."""
        with self._uow(write=True) as uow:
            self._user(uow, login).is_disabled = disabled

    def reset_password(self, login: str, password: str) -> None:
        if len(password) < 8:
            raise InvalidInput("password must be at least 8 characters")
        with self._uow(write=True) as uow:
            self._user(uow, login).password_hash = _hasher.hash(password)

    def set_superuser(self, login: str, value: bool = True) -> None:
        with self._uow(write=True) as uow:
            self._user(uow, login).is_superuser = value
