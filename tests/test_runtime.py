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
