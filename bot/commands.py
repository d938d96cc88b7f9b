"""The command menu fits the person: everyone sees the basics, each role adds its own."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from texts import text
from core.people import Role, Roles

log = logging.getLogger(__name__)

EVERYONE = ("start", "help", "lang", "cancel", "privacy", "mydata", "forget")
REGISTERED = ("bind",)  # anyone with a role: the same person on WeChat (core/binding.py)
BY_ROLE: dict[Role, tuple[str, ...]] = {
    Role.RESIDENT: ("report", "my", "ask", "join_party", "points"),
    Role.GRID_MEMBER: ("cases",),
    Role.PARTY_MEMBER: ("tasks", "mytasks", "points"),
    Role.STAFF: ("desk", "stats", "dashboard", "notice", "invite", "orders", "newpost", "posts", "themes", "members", "redeem",
                 "suspend", "qr"),
    Role.DEPARTMENT: ("cases",),
    Role.ADMIN: ("desk", "stats", "dashboard", "invite", "qr"),
}


def commands_for(roles: Roles) -> list[str]:
    names = list(EVERYONE)
    for role in roles.names:
        names += [c for c in BY_ROLE[role] if c not in names]
    if roles.names:
        names += list(REGISTERED)
    return names


def help_lines(roles: Roles, lang: str) -> list[str]:
    return [text(lang, f"help.{name}") for name in commands_for(roles)]


def _menu(names: list[str], lang: str) -> list[BotCommand]:
    return [BotCommand(command=name, description=text(lang, f"cmd.{name}")) for name in names]


async def publish_default_commands(bot: Bot) -> None:
    """The menu of someone we do not know yet: Chinese by default, English for English clients."""
    await bot.set_my_commands(_menu(list(EVERYONE), "zh"), scope=BotCommandScopeDefault())
    await bot.set_my_commands(_menu(list(EVERYONE), "en"), scope=BotCommandScopeDefault(), language_code="en")


async def publish_commands(bot: Bot, chat_id: int | str, roles: Roles, lang: str) -> None:
    try:
        await bot.set_my_commands(_menu(commands_for(roles), lang), scope=BotCommandScopeChat(chat_id=chat_id))
    except TelegramAPIError as exc:  # a menu is a convenience; never fail the user's action over it
        log.warning("could not set commands for chat %s: %s", chat_id, exc)
