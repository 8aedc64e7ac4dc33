from __future__ import annotations

from alembic import context

import packyard.storage.db.models  # noqa: F401  (registers the tables)
from packyard.storage.db.base import Base
from packyard.storage.db.engine import make_engine

config = context.config


def run_migrations() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,  # SQLite has no ALTER for most changes
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
