"""Alembic, configured in code (no alembic.ini to find): upgrade and drift check."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from packyard.storage.db.base import Base


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "packyard.storage.db:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s_%%(rev)s")
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise ``alembic.util.CommandError`` when the models and the migrations disagree."""
    import packyard.storage.db.models  # noqa: F401  (registers the tables)

    assert Base.metadata.tables
    command.check(alembic_config(url))


def revision(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)
