"""The composition root: everything a running packyard needs, built once from ``Settings``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from packyard.services.accounts import AccountService, UserAdminService
from packyard.services.channels import ChannelService
from packyard.services.downloads import UrlSigner
from packyard.services.documents import DocumentService
from packyard.services.labels import LabelService
from packyard.services.orgs import OrgService
from packyard.services.packages import PackageService
from packyard.services.projects import ProjectService
from packyard.services.pypi import PypiService
from packyard.services.uow import UnitOfWork
from packyard.services.uploads import UploadService
from packyard.settings import Settings
from packyard.storage.blobs.local import LocalBlobStore, blob_store_from_url
from packyard.storage.db.engine import make_engine


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.resolved_database_url())
        self.session_factory: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self.blobs: LocalBlobStore = blob_store_from_url(settings.resolved_storage_url())
        uow: Callable[..., UnitOfWork] = partial(UnitOfWork, self.session_factory)
        self.accounts = AccountService(uow)
        self.packages = PackageService(uow, self.blobs, settings.max_metadata_field)
        self.uploads = UploadService(uow, self.blobs, settings.signed_url_ttl, settings.max_metadata_field)
        self.channels = ChannelService(self.engine, uow)
        self.orgs = OrgService(uow, self.packages)
        self.labels = LabelService(uow)
        self.documents = DocumentService(uow)
        self.projects = ProjectService(uow, self.packages, self.uploads)
        self.pypi = PypiService(self.engine, uow, self.blobs)
        self.user_admin = UserAdminService(uow)
        self.signer = UrlSigner(settings.resolved_secret_key(), settings.signed_url_ttl)

    def close(self) -> None:
        self.engine.dispose()
