"""Keeping a long-running bot process fast: what it builds once, and what the collector may skip.

* aiogram parses every Bot API answer into `Response[<result type>]`, a pydantic generic class
  that pydantic caches only weakly. After a garbage collection the class is gone and the next
  call rebuilds it (a schema build of milliseconds, on every kind of call, over and over).
  Holding them here keeps the cache warm for the life of the process.
* Once started, the objects that live as long as the process (modules, routers, compiled
  statements, those classes) never become garbage; `gc.freeze()` moves them out of the
  collector's sight, so a full collection no longer stops the event loop for 200–300 ms.
"""

from __future__ import annotations

import gc
import logging

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod

log = logging.getLogger(__name__)
_RESPONSE_MODELS: list[type] = []


def keep_api_models() -> int:
    """Build `Response[...]` for every Bot API method once and hold it; returns how many."""
    if not _RESPONSE_MODELS:
        for name in dir(methods):
            cls = getattr(methods, name)
            if isinstance(cls, type) and issubclass(cls, TelegramMethod) and cls is not TelegramMethod:
                returning = getattr(cls, "__returning__", None)
                if returning is not None:
                    _RESPONSE_MODELS.append(Response[returning])  # type: ignore[index]
    return len(_RESPONSE_MODELS)


def settle_memory() -> None:
    """After start-up: collect once, then freeze what is left so later collections skip it."""
    gc.collect()
    gc.freeze()
    log.debug("froze %d objects after start-up", gc.get_freeze_count())


async def on_startup() -> None:
    keep_api_models()
    settle_memory()
