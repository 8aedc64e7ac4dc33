"""Unit of work: one session, one transaction; side effects registered with ``on_commit`` run only after
the transaction commits (so a blob is never deleted for a row that was rolled back)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    def __init__(self, factory: sessionmaker[Session], write: bool = False) -> None:
        self._factory = factory
        self._write = write
        self._after: list[Callable[[], None]] = []
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self._after = []
        if self._write:
            # Take the connection with the write flag so SQLite begins with BEGIN IMMEDIATE (engine.py).
            self.session.connection(execution_options={"packyard_write": True})
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
        if exc_type is None:
            for hook in self._after:
                hook()

    def on_commit(self, hook: Callable[[], None]) -> None:
        self._after.append(hook)
