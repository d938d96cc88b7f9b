"""Refusals that depend on how often the bot calls, not on what it sends: Telegram's flood limits
(429 "Too Many Requests: retry after N" past `max_per_second` messages overall or
`max_per_chat_per_second` to one chat, when `flood_limits` is on) and the tests' fault switch
`fail()` (the next calls answered 500/502, or 429 with retry_after)."""

from __future__ import annotations

import math
import time
from collections import deque

from demo.standin.base import StandInState
from demo.standin.model import ApiError


class LimitsMixin(StandInState):
    """Flood limits and injected faults."""

    def fail(self, method: str | None = None, *, times: int = 1, code: int = 500,
             retry_after: int | None = None) -> None:
        """Fault switch: the next `times` HTTP calls of `method` (None: any method but getUpdates) are
        answered as Telegram answers when it is down (500/502) or throttling (429 with retry_after)."""
        self._faults.append([method.lower() if method else None, times, code, retry_after])

    def _injected_fault(self, method: str) -> None:
        for fault in self._faults:
            name, left, code, retry_after = fault
            if left > 0 and (name == method or (name is None and method != "getupdates")):
                fault[1] -= 1
                if code == 429:
                    raise ApiError(429, f"Too Many Requests: retry after {retry_after or 1}",
                                   {"retry_after": retry_after or 1})
                raise ApiError(code, "Internal Server Error" if code == 500 else "Bad Gateway")

    def _check_flood(self, chat_id: int) -> None:
        if not self.flood_limits:
            return
        now = time.monotonic()
        overall = self._flood_all
        per_chat = self._flood_chat.setdefault(chat_id, deque())
        for window in (overall, per_chat):
            while window and window[0] <= now - 1.0:
                window.popleft()
        for window, limit in ((overall, self.max_per_second),
                              (per_chat, self.max_per_chat_per_second)):
            if len(window) >= limit:
                retry_after = max(1, math.ceil(window[0] + 1.0 - now))
                self.flood_rejections.append((chat_id, "overall" if window is overall else "chat"))
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                               {"retry_after": retry_after})
        overall.append(now)
        per_chat.append(now)
