"""The long-running process keeps aiogram's response classes and freezes start-up objects."""

from __future__ import annotations

import gc
import weakref

from aiogram.methods import AnswerCallbackQuery, SendMessage, SendPhoto
from aiogram.methods.base import Response

from bot import runtime


def _as_aiogram_asks(method) -> weakref.ref:
    # what BaseSession.check_response does on every call: the class lives only as long as the cache's
    # weak reference unless someone holds it (left alone, a collection frees it and the next call rebuilds it)
    return weakref.ref(Response[method.__returning__])


def test_response_classes_survive_a_collection():
    assert runtime.keep_api_models() > 100  # every Bot API method
    refs = [_as_aiogram_asks(m) for m in (SendMessage, SendPhoto, AnswerCallbackQuery)]
    gc.collect()
    assert all(ref() is not None for ref in refs)  # not rebuilt: the next call does not pay for a schema build


def test_settle_memory_freezes_what_exists_now():
    gc.unfreeze()
    try:
        runtime.settle_memory()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


async def test_magic_filters_are_checked_in_the_event_loop_not_in_a_thread(monkeypatch):
    """aiogram would run F.text / F.photo | F.document in a worker thread, one round trip per check."""
    import asyncio
    import datetime

    from aiogram import Dispatcher, F, Router
    from aiogram.types import Chat, Message, User

    router = Router()
    seen = []

    @router.message(F.photo | F.document)
    async def photo(message: Message) -> None:
        seen.append("photo")

    @router.message(F.text.regexp(r"^hello"))
    async def hello(message: Message) -> None:
        seen.append(message.text)

    dp = Dispatcher()
    dp.include_router(router)
    assert runtime.evaluate_filters_inline(dp) == 2

    async def no_threads(*args, **kwargs):
        raise AssertionError("a filter went to a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)
    message = Message(message_id=1, date=datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc),
                      chat=Chat(id=5, type="private"), from_user=User(id=5, is_bot=False, first_name="王"),
                      text="hello there")
    await dp.propagate_event("message", message)
    assert seen == ["hello there"]


def test_the_bots_dispatcher_has_no_magic_filter_left_for_a_thread(tmp_path):
    from core.clock import SystemClock
    from redgrid.bootstrap import build_dispatcher
    from redgrid.settings import Settings
    from storage.engine import make_engine
    from storage.uow import Database

    settings = Settings(_env_file=None, data_dir=tmp_path, redis_url="",
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    dp = build_dispatcher(Database(make_engine(settings.database_url)), settings, SystemClock())
    left = [f for r in dp.chain_tail for o in r.observers.values() for h in (o._handler, *o.handlers)
            for f in h.filters or () if f.magic is not None and not f.awaitable]
    assert left == []
