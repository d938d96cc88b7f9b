"""Keeping a long-running bot process fast: what it builds once, and what the collector may skip.

* aiogram parses every Bot API answer into `Response[<result type>]`, a pydantic generic class
  that pydantic caches only weakly. After a garbage collection the class is gone and the next
  call rebuilds it (a schema build of milliseconds, on every kind of call, over and over).
  Holding them here keeps the cache warm for the life of the process.
* Once started, the objects that live as long as the process (modules, routers, compiled
  statements, those classes) never become garbage; `gc.freeze()` moves them out of the
  collector's sight, so a full collection no longer stops the event loop for 200–300 ms.
* aiogram runs a filter that is not a coroutine function — every magic filter (`F.photo`,
  `F.text.regexp(…)`, `F.photo | F.document`) — through `asyncio.to_thread`: a trip to a worker
  thread and back, with the interpreter lock changing hands, for a check of an attribute or two.
  An update passes several of them on its way to its handler. `evaluate_filters_inline` makes the
  magic filters of a router tree run in the event loop instead (they touch nothing but the event).
"""

from __future__ import annotations

import gc
import logging

from typing import Any

from aiogram import Router, methods
from aiogram.dispatcher.event.handler import FilterObject
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


def evaluate_filters_inline(router: Router) -> int:
    """Make every magic filter in `router` and its sub-routers (scenes included) run in the event loop
    rather than in a worker thread (see the module doc); returns how many. Call once the tree is built."""
    changed = 0
    for each in router.chain_tail:
        for observer in each.observers.values():
            for handler in (observer._handler, *observer.handlers):
                for event_filter in handler.filters or ():
                    if event_filter.magic is not None and not event_filter.awaitable:
                        event_filter.callback = _in_the_loop(event_filter.callback)
                        event_filter.awaitable = True
                        changed += 1
    return changed


def _in_the_loop(resolve: Any) -> Any:
    async def resolved(*args: Any, **kwargs: Any) -> Any:
        return resolve(*args, **kwargs)

    return resolved
