"""The unit of work: one transaction that the core services use through `core.ports.UnitOfWork`."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.audit import SqlAudit
from storage.cases import SqlCases
from storage.limits import SqlLimits
from storage.inbox import SqlInbox
from storage.outbox import SqlBroadcastWriter, SqlOutbox
from storage.repositories import SqlBindCodes, SqlEvents, SqlInvites, SqlPeople, SqlPlaces
from storage.open311 import SqlOpen311
from storage.statistics import SqlSignIns, SqlStatistics
from storage.personal_data import SqlConsents, SqlPersonalData
from storage.volunteering import SqlVolunteering
from storage.voice import SqlVoiceNotes

log = logging.getLogger(__name__)


class SqlUnitOfWork:
    """`async with SqlUnitOfWork(engine) as uow: … await uow.commit()`; leaving without commit rolls back."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.conn: AsyncConnection | None = None
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` once this transaction has committed (dropped if it rolls back): what lives
        outside the database, such as dialog state in Redis (bot/dialog_buffer.py)."""
        self._after_commit.append(action)

    async def __aenter__(self) -> "SqlUnitOfWork":
        self.conn = await self.engine.connect()
        await self.conn.begin()
        self.places = SqlPlaces(self.conn)
        self.people = SqlPeople(self.conn)
        self.invites = SqlInvites(self.conn)
        self.bind_codes = SqlBindCodes(self.conn)
        self.events = SqlEvents(self.conn)
        self.outbox = SqlOutbox(self.conn)  # notifications, kept or dropped with this transaction
        self.inbox = SqlInbox(self.conn)  # the update being handled is marked handled with its effects
        self.cases = SqlCases(self.conn, self.events)
        self.volunteering = SqlVolunteering(self.conn, self.events)
        self.broadcasts = SqlBroadcastWriter(self.conn)  # a broadcast queued in this transaction
        self.audit = SqlAudit(self.conn)  # who saw whose personal data: add and read only
        self.limits = SqlLimits(self.conn)  # counts for the abuse limits, suspended reporting
        self.statistics = SqlStatistics(self.conn)  # the dashboard's figures, counted by the database
        self.sign_ins = SqlSignIns(self.conn)  # the dashboard's one-time sign-in links
        self.open311 = SqlOpen311(self.conn)  # Open311 clients, tokens and requests
        self.consents = SqlConsents(self.conn)  # what each person agreed to (core.consent)
        self.personal_data = SqlPersonalData(self.conn, self.cases)  # /mydata and /forget, table by table
        self.voice_notes = SqlVoiceNotes(self.conn)  # voice notes kept with cases and orders (core.voice)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self.conn is not None
        try:
            if self.conn.in_transaction():
                await self.conn.rollback()
        finally:
            await self.conn.close()
            self.conn = None

    async def commit(self) -> None:
        """Commit; the unit of work stays usable: its next statement begins the next transaction
        (SQLAlchemy's autobegin). Not beginning one here saves the begin and, when nothing follows (the
        usual end of an update), the rollback of that empty transaction when the unit of work is left."""
        assert self.conn is not None
        await self.conn.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                await action()
            except Exception:  # committed is committed: the rest of the update stands
                log.exception("an action after the commit failed")

    async def rollback(self) -> None:
        assert self.conn is not None
        self._after_commit = []
        await self.conn.rollback()


class Database:
    """The engine and a factory of units of work; one per process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()


if TYPE_CHECKING:  # mypy (.ci/run) checks that storage fits the ports core is written against
    from core.ports import Database as DatabasePort, UnitOfWork

    def _fits_the_ports(uow: SqlUnitOfWork, db: Database) -> tuple[UnitOfWork, DatabasePort]:
        return uow, db
