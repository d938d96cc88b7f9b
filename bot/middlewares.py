"""Per-update context: one unit of work, the person behind the chat account, their language.

A domain refusal (core.errors.DomainError) raised by a handler is rolled back and turned into
a polite reply here, so handlers read as the happy path. Any other error is rolled back too, the
person is told politely that something went wrong (a press is answered), the log names the update,
and the error goes on to the inbox, which keeps the update as failed (bot/inbox.py).

`unchanged_edit_is_done` (a Bot session middleware) takes Telegram's "message is not modified"
for what it means: the message already shows that, so the handler goes on.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery, EditMessageCaption, EditMessageMedia, EditMessageReplyMarkup, EditMessageText,
)
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User

from texts import Translator
from texts.refusals import refusal_text
from core.clock import Clock
from core.errors import DomainError
from bot.handlers.privacy import ask_for_location, at_the_door, lets_through, shares_location_first_time
from core.consent import PrivacyPolicy
from core.consent_services import arrive
from core.people import Roles, pick_language
from storage.uow import Database

log = logging.getLogger(__name__)
CHANNEL = "telegram"
# Set by the inbox while it handles an update for the second time or more (bot/inbox.py).
HANDLING_AGAIN: ContextVar[bool] = ContextVar("handling_again", default=False)


class ContextMiddleware(BaseMiddleware):
    """Also the door of PIPL's consent: someone who has not agreed to the current privacy notice
    (a newcomer, of whom nothing is written, or someone asked again) meets `at_the_door` instead of
    the routers, and a location shared before its own consent meets `ask_for_location`."""

    def __init__(self, db: Database, clock: Clock, default_language: str,
                 privacy: PrivacyPolicy | None = None) -> None:
        self.db = db
        self.clock = clock
        self.default_language = default_language
        self.privacy = privacy or PrivacyPolicy()

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        now = self.clock.now()
        async with self.db.uow() as uow:
            arrival = await arrive(uow, self.privacy, CHANNEL, str(user.id), now)
            if arrival.changed:
                await uow.commit()  # reachable again is kept even if the handler then refuses
            account = arrival.account
            person = account.person if account is not None else None
            person_id = person.id if person is not None else None
            lang = pick_language(person.language if person else None, user.language_code, self.default_language)
            data.update(uow=uow, person=person, roles=account.roles if account else Roles([]), lang=lang,
                        tr=Translator(lang), now=now, clock=self.clock, channel=CHANNEL, privacy=self.privacy)
            newcomer_update = False
            run: Callable[[Any, dict[str, Any]], Awaitable[Any]] = handler
            if arrival.must_agree and not lets_through(event, arrival):
                newcomer_update = account is None
                run = at_the_door
            elif shares_location_first_time(event, person):
                run = ask_for_location
            try:
                result = await run(event, data)
                if newcomer_update:
                    await _forget_update(uow, data, now)
            except DomainError as refusal:
                await uow.rollback()
                receipt = data.get("inbox_receipt")
                if receipt is not None:  # the rollback undid the inbox's "handled" mark: let it mark again
                    receipt.sealed = False
                # the key only: a refusal's params may carry what someone wrote (a reason, a name)
                log.info("refused %s for person %s: %s", type(refusal).__name__, person_id, refusal.key)
                settings = data.get("settings")
                await _reply(event, refusal_text(data["tr"], refusal, getattr(settings, "tz", None), now))
                return None
            except Exception as error:
                try:
                    await uow.rollback()
                except Exception:  # the connection is gone: leaving the unit of work drops it
                    log.warning("rollback after a failed update did not go through", exc_info=True)
                receipt = data.get("inbox_receipt")
                if receipt is not None:
                    receipt.sealed = False
                if receipt is not None and receipt.will_retry(error):  # the inbox tries it again later
                    raise
                log.error("update %s failed for person %s: %s: %s", getattr(event, "update_id", "?"),
                          person_id, type(error).__name__, error, exc_info=True)
                await _reply(event, data["tr"]("error.generic"))
                raise  # the inbox keeps the update as failed, with its error
            await uow.commit()
            return result


async def _forget_update(uow: Any, data: dict[str, Any], now: datetime) -> None:
    """A newcomer's update is handled without keeping what it said (nothing is kept before they agree):
    the inbox keeps its id, so a second delivery is still recognised, and drops its content."""
    receipt = data.get("inbox_receipt")
    inbox = getattr(uow, "inbox", None)
    if receipt is not None and inbox is not None and not receipt.sealed:
        await inbox.mark_handled_forgetting(receipt.update_id, now)
        receipt.sealed = True


async def _reply(event: TelegramObject, message: str) -> None:
    """Tell the person; a press the handler had already answered gets the words as a message."""
    if isinstance(event, Update):
        event = event.event
    try:
        if isinstance(event, CallbackQuery):
            try:
                await event.answer(message[:200], show_alert=True)
            except TelegramBadRequest:  # answered already (a query is answered once)
                if event.message is not None:
                    await event.message.answer(message)
        elif isinstance(event, Message):
            await event.answer(message)
    except TelegramAPIError as failed:  # blocked, or Telegram is down: the log keeps the story
        log.warning("could not tell the person: %s", failed)


_EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption, EditMessageMedia)


async def unchanged_edit_is_done(make_request, bot: Bot, method):
    """A Bot session middleware: an edit to what the message already shows (a press repeated or
    forged, buttons dropped from a message that has none) is done, not an error."""
    try:
        return await make_request(bot, method)
    except TelegramBadRequest as refused:
        if isinstance(method, _EDITS) and "message is not modified" in refused.message:
            return True
        # an update tried again (after a crash or a transient failure) answers its press once more; the
        # spinner is long gone, and the answer that matters is the message the handler goes on to send
        if isinstance(method, AnswerCallbackQuery) and HANDLING_AGAIN.get() and (
                "query is too old" in refused.message or "query id is invalid" in refused.message.lower()):
            return True
        raise


def watch_edits(bot: Bot) -> None:
    """Install `unchanged_edit_is_done` on this bot's session (once per bot)."""
    if unchanged_edit_is_done not in bot.session.middleware:
        bot.session.middleware(unchanged_edit_is_done)
