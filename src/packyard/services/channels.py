"""The read side of conda channels: ``repodata.json`` bytes kept current per (owner, label, subdir).

Each worker holds, per index, the records it has applied and the serial of the last event it applied. A
request reads the index's serial (one indexed query); when the database is ahead, the worker applies only
the events it has not seen, then re-assembles the document from pre-serialized records. So an upload never
pays for the size of its channel, and a change is visible on every worker as soon as it commits.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from packyard.domain import names
from packyard.domain.permissions import Action, Principal, Resource, can
from packyard.domain.repodata import assemble_repodata, channeldata
from packyard.errors import NotFound
from packyard.services.access import NamespaceGrants, namespace_grants, require
from packyard.services.index_cache import CachedIndex, IndexBytes, IndexCache, anonymous_hidden, etag, probe_serial
from packyard.services.uow import UnitOfWork
from packyard.storage.db import repositories as repo
from packyard.storage.db.models import File, Owner



def version_key(version: str) -> tuple[Any, ...]:
    """An approximation of conda's version order that is right for the common numeric cases."""
    parts = re.split(r"[._+-]", version.lower())
    return tuple((0, int(p), "") if p.isdigit() else (-1, 0, p) for p in parts)


class ChannelService:
    def __init__(self, engine: Engine, uow: Callable[..., UnitOfWork]) -> None:
        self._engine = engine
        self._uow = uow
        self._cache = IndexCache()
        self._empty: dict[str, IndexBytes] = {}
        self._channeldata: dict[tuple[int, str, int, Any], IndexBytes] = {}

    def repodata(self, principal: Principal, owner_login: str, label: str, subdir: str) -> IndexBytes:
        """The repodata document this principal may see. ``NotFound`` for an unknown owner or subdir,
        ``InvalidInput`` for a malformed label name."""
        names.check_subdir_or_404(subdir)
        names.check_label(label)
        with Session(self._engine) as s:
            found = repo.index_serial(s, owner_login, label, subdir)
            if found is None:
                raise NotFound(f"channel {owner_login!r} does not exist")
            owner_id, index_id, serial = found
            grants = self._grants(s, principal, owner_id)
            if index_id == 0:
                return self._empty_index(subdir)
            index = self._cache.current(s, index_id, owner_id, label, subdir, serial)
        # Only non-public packages can be hidden; keep them once per serial so that a request does not walk
        # every package of the index (20,000 names cost ~0.4 ms per request, 304s included).
        restricted = index.view("restricted", lambda: {p: a for p, a in index.access.items() if a != "public"})
        hidden = anonymous_hidden(index) if not principal.authenticated else \
            self._hidden(restricted, principal, grants, owner_id)
        return index.view(hidden, lambda: self._build(index, hidden, subdir))

    def current_anonymous(self, owner_login: str, label: str, subdir: str) -> IndexBytes | None:
        """The anonymous view, if this worker already holds it current; None means: ask ``repodata``.

        The common request (an anonymous client revalidating) costs one indexed query on a plain connection
        and a dictionary lookup: no session, no rebuild, so the adapter can answer it on the event loop."""
        if subdir not in names.KNOWN_SUBDIRS:
            return None
        found = probe_serial(self._engine, owner_login, label, subdir)
        if found is None:
            return None
        _, index_id, serial = found
        if index_id == 0:
            return self._empty_index(subdir)
        index = self._cache.cached(index_id, serial)
        if index is None or "anonymous-hidden" not in index.views:
            return None
        return index.views.get(anonymous_hidden(index))  # type: ignore[no-any-return]

    @staticmethod
    def _grants(s: Session, principal: Principal, owner_id: int) -> NamespaceGrants:
        """The caller's grants in the namespace (no query for anonymous callers, the common case)."""
        if not principal.authenticated:
            return NamespaceGrants()
        owner = s.get(Owner, owner_id)
        assert owner is not None
        grants = namespace_grants(s, principal, owner)
        require(s, principal, Action.READ, owner, grants=grants)  # a token without a conda scope stops here
        return grants

    def _empty_index(self, subdir: str) -> IndexBytes:
        if subdir not in self._empty:
            body = assemble_repodata(subdir, {})
            self._empty[subdir] = IndexBytes(body, etag(body, ""), time.time())
        return self._empty[subdir]

    @staticmethod
    def _hidden(index_access: dict[int, str], principal: Principal, grants: NamespaceGrants, owner_id: int
                ) -> frozenset[int]:
        return frozenset(
            pid for pid, access in index_access.items()
            if access != "public" and not can(principal, Action.READ, Resource(owner_id, access),
                                              grants.for_package(pid))
        )

    @staticmethod
    def _build(index: CachedIndex, hidden: frozenset[int], subdir: str) -> IndexBytes:
        records = {fn: rec for fn, (pid, rec) in index.records.items() if pid not in hidden}
        body = assemble_repodata(subdir, records)
        return IndexBytes(body, etag(body, ""), time.time())

    def channeldata(self, principal: Principal, owner_login: str, label: str) -> IndexBytes:
        with Session(self._engine) as s:
            owner = repo.owner_by_login(s, owner_login)
            if owner is None:
                raise NotFound(f"channel {owner_login!r} does not exist")
            grants = self._grants(s, principal, owner.id)
            serial = repo.owner_index_serials(s, owner.id, label)
            # Access changes bump the serial (indexing.touch_owner), so (serial, viewer) names the bytes.
            viewer = (principal.user_id, principal.acts_for_id, principal.is_superuser)
            key = (owner.id, label, serial, viewer)
            cached = self._channeldata.get(key)
            if cached is not None:
                return cached
            rows = repo.channel_packages(s, owner.id, label)
            hidden = self._hidden({r.package_id: r.access for r in rows}, principal, grants, owner.id)
            packages: dict[str, dict[str, Any]] = {}
            subdirs: set[str] = {"noarch"}
            for r in rows:
                if r.package_id in hidden:
                    continue
                rec = json.loads(r.record)
                subdirs.add(r.subdir)
                entry = packages.setdefault(rec["name"], {
                    "subdirs": [], "version": rec["version"], "timestamp": 0, "summary": r.summary,
                    "home": r.home, "license": rec.get("license") or r.license, "dev_url": r.dev_url,
                    "doc_url": r.doc_url, "source_url": None, "run_exports": {},
                    "activate.d": False, "deactivate.d": False, "binary_prefix": False, "text_prefix": False,
                    "post_link": False, "pre_link": False, "pre_unlink": False,
                })
                if r.subdir not in entry["subdirs"]:
                    entry["subdirs"] = sorted([*entry["subdirs"], r.subdir])
                if version_key(rec["version"]) > version_key(entry["version"]):
                    entry["version"] = rec["version"]
                entry["timestamp"] = max(entry["timestamp"], int(rec.get("timestamp", 0) or 0) // 1000)
            body = channeldata(subdirs, packages)
            built = IndexBytes(body, etag(body, "c"), time.time())
            if len(self._channeldata) > 256:
                self._channeldata.clear()
            self._channeldata[key] = built
            return built

    def channel_file(self, principal: Principal, owner_login: str, label: str, subdir: str, filename: str
                     ) -> File:
        """The file a channel URL names, if this principal may download it (else ``NotFound``)."""
        names.check_subdir_or_404(subdir)
        names.check_label(label)
        with self._uow() as uow:
            owner = repo.owner_by_login(uow.session, owner_login)
            if owner is None:
                raise NotFound(f"channel {owner_login!r} does not exist")
            grants = self._grants(uow.session, principal, owner.id)
            f = repo.file_in_channel(uow.session, owner.id, label, subdir, filename)
            access = repo.package_access(uow.session, [f.package_id]) if f else {}
            if f is None or f.package_id in self._hidden({f.package_id: access[f.package_id][0]}, principal,
                                                          grants, owner.id):
                raise NotFound(f"{owner_login}/label/{label}/{subdir}/{filename} does not exist")
            return f

    def count_download(self, file_id: int) -> None:
        with self._uow(write=True) as uow:
            repo.count_download(uow.session, file_id)
