"""A tiny round-robin front for several webhook workers, as nginx's `upstream` block is in production:
every request Telegram (or the stand-in) posts goes to the next worker in turn, and the worker's answer
goes back. The tests and bench/workers.py put it between the Bot API stand-in and `redgrid webhook`
workers, so one chat's updates alternate between them."""

from __future__ import annotations

import itertools
from typing import Sequence

import aiohttp
from aiohttp import web

_HOP = {"host", "content-length", "transfer-encoding", "connection"}


class RoundRobin:
    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = list(targets)  # base URLs, e.g. http://127.0.0.1:8090
        self._next = itertools.cycle(range(len(self.targets)))
        self.forwarded = [0] * len(self.targets)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        n = next(self._next)
        self.forwarded[n] += 1
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(request.method, self.targets[n] + request.path_qs, headers=headers,
                                         data=await request.read()) as answer:
            body = await answer.read()
            return web.Response(status=answer.status, body=body,
                                headers={k: v for k, v in answer.headers.items() if k.lower() not in _HOP})

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        return f"http://{host}:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
