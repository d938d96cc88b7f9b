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

POSTGRES_URL = os.environ.get("REDGRID_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BACKENDS = [b.strip() for b in os.environ.get("REDGRID_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
            if IN_CI:
                pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {exc}")
            pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
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


def _browser_missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI must provide Chromium (apt-get install chromium fonts-noto-cjk)")
    pytest.skip(f"{reason}; install it with: apt-get install -y chromium fonts-noto-cjk")


@pytest.fixture
async def browser():
    """Debian's Chromium driven by Playwright; a browser is never downloaded."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _browser_missing("playwright is not installed")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if executable is None:
        _browser_missing(f"{CHROMIUM} is missing")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
