"""`redgrid webhook`: the bot behind Telegram's webhook, on the one web server, as one of several workers.

    one aiohttp server (WEB_HOST:WEB_PORT)
      POST <path of WEBHOOK_URL>   Telegram's updates (X-Telegram-Bot-Api-Secret-Token = WEBHOOK_SECRET)
      POST/GET /wechat/{mp,work}   WeChat callbacks (when WECHAT_MP_* / WECOM_* are set)
      /dashboard/, /open311/v2/    the dashboard and Open311 (when enabled)
      GET /healthz                 200 when the database (and Redis, with REDIS_URL) answer, else 503
      GET /metrics                 Prometheus text

Several workers share PostgreSQL and Redis. An update is answered (200) only after it is handled
and committed (aiogram's `handle_in_background=False`): Telegram sends the next update of a chat only
once the previous one is answered, so a chat's updates stay in order whichever worker takes each.
aiogram's Redis lock (bot/serial.py `dialog_isolation`) keeps two workers off one dialog at once
(the photos of an album arrive together), dialog state is in Redis, the rate of the bot's messages
is kept in Redis (scheduler/shared_pacer.py), and one worker leads (scheduler/leader.py): it alone
runs the scheduler and the outbox's delivery.

Logs: LOG_FORMAT=json writes one JSON object per line, with the update, case and post being handled
when known, and never a name, a phone number or what someone wrote (`JsonLogFormatter`).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import time
import traceback
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiogram import Bot, Dispatcher
from aiogram.types import Update

log = logging.getLogger(__name__)

# ---- logs ----------------------------------------------------------------------------------------

# What is being handled, for the log lines written meanwhile (ids only).
LOG_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("log_context", default=None)
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and `update`, `case`, `post` when known.

    The messages themselves carry ids only (the code's rule); as a second line of defence a mobile
    number that slipped into one is masked, and an exception is given by its type and traceback
    frames (file, line, function), never its message, which may quote a value someone typed."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "msg": _PHONE.sub("[phone]", record.getMessage()),
        }
        context = LOG_CONTEXT.get()
        if context:
            entry.update(context)
        for key in ("case", "post", "update"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["where"] = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(record.exc_info[2])][-5:]
        return json.dumps(entry, ensure_ascii=False)


JsonLogFormatter.converter = time.gmtime  # type: ignore[assignment]


def configure_logging(log_format: str) -> None:
    """LOG_FORMAT=json: every handler of the root logger writes JSON lines (text stays the default)."""
    if log_format != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonLogFormatter())


def _ids_of(update: Update) -> dict[str, Any]:
    """The update's id, and the case or post a button names (its callback data), for the log lines."""
    ids: dict[str, Any] = {"update": update.update_id}
    query = update.callback_query
    if query is not None and query.data:
        parts = query.data.split(":")
        if parts[0] == "ca" and len(parts) > 2:
            ids["case"] = parts[2]
        elif parts[0] == "vo" and len(parts) > 2 and parts[2]:
            ids["post"] = parts[2]
    return ids


# ---- metrics -------------------------------------------------------------------------------------

class Metrics:
    """The Prometheus figures of one process (a registry of its own, so tests can build several)."""

    def __init__(self, db: Any = None, runner: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.db = db
        self.runner = runner
        self.registry = CollectorRegistry()
        self.updates = Counter("redgrid_updates_handled", "Telegram updates handled by this process",
                               ["outcome"], registry=self.registry)
        self.latency = Histogram("redgrid_handler_seconds", "Time to handle one Telegram update",
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self._scraped: dict[str, Any] = {}
        self.registry.register(_Scraped(self))

    def observe(self, dp: Dispatcher) -> None:
        """Count and time every update; first of all the update middlewares, so the whole handling is timed."""

        async def observed(handler: Callable[[Any, dict[str, Any]], Awaitable[Any]], event: Any,
                           data: dict[str, Any]) -> Any:
            # not reset afterwards: aiogram's "Update id=… is handled" line comes after this returns, in the
            # same task (each update has a task of its own); the next update of a task sets its own ids
            LOG_CONTEXT.set(_ids_of(event) if isinstance(event, Update) else None)
            started = time.perf_counter()
            outcome = "failed"
            try:
                result = await handler(event, data)
                outcome = "handled"
                return result
            finally:
                self.latency.observe(time.perf_counter() - started)
                self.updates.labels(outcome).inc()

        dp.update.outer_middleware._middlewares.insert(0, observed)

    async def refresh(self) -> None:
        """What the database knows (outbox backlog, cases by state): read at each scrape."""
        if self.db is None:
            return
        from sqlalchemy import text

        async with self.db.engine.connect() as conn:
            backlog = (await conn.execute(text(
                "SELECT channel, count(*) FROM outbox WHERE state IN ('pending', 'sending') GROUP BY channel"))).all()
            cases = (await conn.execute(text("SELECT state, count(*) FROM cases GROUP BY state"))).all()
        self._scraped = {"backlog": {str(c): int(n) for c, n in backlog}, "cases": {str(s): int(n) for s, n in cases}}

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _Scraped:
    """The figures read at scrape time: the database's, and the delivery worker's (while leading)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self):  # type: ignore[no-untyped-def]
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        scraped = self.metrics._scraped
        backlog = GaugeMetricFamily("redgrid_outbox_backlog", "Notifications waiting to be sent", labels=["channel"])
        for channel, count in sorted(scraped.get("backlog", {}).items()):
            backlog.add_metric([channel], count)
        yield backlog
        cases = GaugeMetricFamily("redgrid_cases", "Cases by state", labels=["state"])
        for state, count in sorted(scraped.get("cases", {}).items()):
            cases.add_metric([state], count)
        yield cases
        runner = self.metrics.runner
        worker = getattr(runner, "worker", None)
        stats = getattr(worker, "stats", None)
        leading = GaugeMetricFamily("redgrid_leader", "1 while this process runs the scheduler and delivery")
        leading.add_metric([], 1 if runner is not None and runner.leading.is_set() else 0)
        yield leading
        sent = CounterMetricFamily("redgrid_deliveries", "Outbox messages this process sent", labels=["outcome"])
        flood = CounterMetricFamily("redgrid_flood_waits", "429 Too Many Requests answers this process met")
        if stats is not None:
            for outcome in ("sent", "failed", "skipped"):
                sent.add_metric([outcome], getattr(stats, outcome))
            flood.add_metric([], stats.flood_waits)
        yield sent
        yield flood


# ---- health --------------------------------------------------------------------------------------

async def health(db: Any, redis_url: str, timeout: float = 2.0) -> dict[str, str]:
    """"ok" or why not, for the database and (with REDIS_URL) Redis."""
    checks: dict[str, str] = {}

    async def database() -> None:
        from sqlalchemy import text

        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            await client.ping()
        finally:
            await client.aclose()

    probes: dict[str, Callable[[], Awaitable[None]]] = {"database": database}
    if redis_url:
        probes["redis"] = redis
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(), timeout)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unreachable: {type(exc).__name__}"
    return checks


# ---- the web server --------------------------------------------------------------------------------

def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


def add_webhook(app: web.Application, dp: Dispatcher, bot: Bot, *, path: str, secret: str) -> None:
    """Telegram's updates at `path`: a wrong or missing secret gets 401 before anything is read or
    recorded; an update is answered once handled and committed (so a chat's next update waits)."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token=secret).register(app, path=path)
    setup_application(app, dp, bot=bot)


def add_health_and_metrics(app: web.Application, db: Any, redis_url: str, metrics: Metrics) -> None:
    async def healthz(request: web.Request) -> web.Response:
        checks = await health(db, redis_url)
        status = 200 if all(v == "ok" for v in checks.values()) else 503
        return web.json_response(checks, status=status)

    async def scrape(request: web.Request) -> web.Response:
        try:
            await metrics.refresh()
        except Exception as exc:  # the figures of the process still go out
            log.warning("metrics: could not read the database: %s", type(exc).__name__)
        from prometheus_client import CONTENT_TYPE_LATEST

        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
