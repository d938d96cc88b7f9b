"""Staff suspend and restore a resident's reporting: `/suspend 问题编号 原因`, `/restore 问题编号`.

Staff know people by their cases, so the command names a case; core finds its reporter, checks that
the one asking keeps that community's desk, records the event and tells the person (the outbox).
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from core.cases import Actor
from core.limits_services import restore_reporter, suspend_reporter
from core.people import Person, Roles
from core.ports import UnitOfWork
from texts import Translator


async def suspend(message: Message, command: CommandObject, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, now) -> None:
    number, _, reason = (command.args or "").strip().partition(" ")
    if not number:
        await message.answer(tr("limits.suspend_usage"))
        return
    await suspend_reporter(uow, Actor.of(person, roles), number.upper(), reason, now)
    await message.answer(tr("limits.suspended_done", number=number.upper()))


async def restore(message: Message, command: CommandObject, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, now) -> None:
    number, _, reason = (command.args or "").strip().partition(" ")
    if not number:
        await message.answer(tr("limits.suspend_usage"))
        return
    await restore_reporter(uow, Actor.of(person, roles), number.upper(), now, reason)
    await message.answer(tr("limits.restored_done", number=number.upper()))


def make_router() -> Router:
    router = Router(name="limits")
    router.message.register(suspend, Command("suspend"))
    router.message.register(restore, Command("restore"))
    return router
