"""Shared fixtures. Storage tests run on every database named in REDGRID_TEST_DATABASES
(default: sqlite and postgresql). Outside CI an unreachable PostgreSQL skips with its reason;
in CI (CI=true) it fails, because CI must prove both."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from storage.engine import make_engine
from storage.migrate import upgrade
from storage.uow import Database

# The server's `test` database is only the door: each test run works in a database of its own, so
# two runs on one machine (a developer and CI, or helpers) never reset each other's schema.
SERVER_URL = os.environ.get("REDGRID_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
RUN_DATABASE = f"redgrid_test_{os.getpid()}"
POSTGRES_URL = SERVER_URL.rsplit("/", 1)[0] + "/" + RUN_DATABASE
BACKENDS = [b.strip() for b in os.environ.get("REDGRID_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def _create_or_drop_run_database(create: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(SERVER_URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{RUN_DATABASE}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{RUN_DATABASE}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
def run_database():
    """This run's own PostgreSQL database; when the server is down, the tests that need it say so."""
    import asyncio

    if "postgresql" not in BACKENDS and not IN_CI:
        yield None
        return
    try:
        asyncio.run(_create_or_drop_run_database(create=True))
    except Exception:  # reported by each test that needs PostgreSQL (skip, or fail in CI)
        yield None
        return
    yield RUN_DATABASE
    asyncio.run(_create_or_drop_run_database(create=False))


def service_missing(what: str, why: object, fix: str = "") -> None:
    """A test needs something this machine lacks: CI must have it (fail); elsewhere say why (skip)."""
    if IN_CI:
        pytest.fail(f"CI must provide {what}: {why}")
    pytest.skip(f"{what} is not available: {why}{'; ' + fix if fix else ''}")


def database_url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/redgrid-test.sqlite3"
    if backend == "postgresql":
        return POSTGRES_URL
    raise ValueError(f"unknown test backend {backend!r}")


async def _reset_postgres(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(params=BACKENDS)
async def db(request, tmp_path) -> Database:
    """A freshly migrated database on each backend."""
    backend = request.param
    engine = make_engine(database_url(backend, tmp_path))
    if backend == "postgresql":
        try:
            await _reset_postgres(engine)
        except (OSError, Exception) as exc:  # connection refused, auth, missing database
            await engine.dispose()
            service_missing(f"PostgreSQL at {POSTGRES_URL}", exc)
    await upgrade(engine)
    database = Database(engine)
    database.backend = backend  # type: ignore[attr-defined]
    yield database
    await engine.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
async def browser():
    """Debian's Chromium driven by Playwright; a browser is never downloaded."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        service_missing("Playwright", "playwright is not installed", "pip install -e '.[test]'")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if executable is None:
        service_missing("Chromium", f"{CHROMIUM} is missing", "apt-get install -y chromium fonts-noto-cjk fonts-noto-color-emoji")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
