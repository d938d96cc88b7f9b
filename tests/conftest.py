"""Shared fixtures. Storage tests run on every database named in REDGRID_TEST_DATABASES
(default: sqlite and postgresql). Outside CI an unreachable PostgreSQL skips with its reason;
in CI (CI=true) it fails, because CI must prove both."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url

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


# Migrating costs about half a second on SQLite and one and a half on PostgreSQL, and some 380 tests
# ask for a fresh database; so each run migrates once per backend and hands every test a copy:
# SQLite a copy of a migrated file, PostgreSQL its migrated tables emptied (DELETE, sequences back to
# their start, VACUUM so the heap is empty again as after a migration). A test may change the schema
# (tests/test_sweep.py downgrades and upgrades again): PostgreSQL's schema is compared with the one
# the migrations built before every test, and anything else is dropped and migrated again.
_POSTGRES_SCHEMA = text("""
SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM (
  SELECT concat_ws(':', c.relname, c.relkind, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                   a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_class c
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'constraint', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'index', indexdef) FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL
  SELECT concat_ws(':', 'function', oid::regprocedure) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'trigger', tgrelid::regclass, tgname) FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL
  SELECT concat_ws(':', 'type', typname) FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype <> 'c'
) AS s(x)
""")
_POSTGRES_EMPTY = text("""
DO $$
DECLARE r record;
BEGIN
  SET LOCAL session_replication_role = replica;  -- no foreign-key triggers: every table is emptied
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM public.%I', r.tablename);
  END LOOP;
  PERFORM setval(format('public.%I', sequencename)::regclass, start_value, false)
     FROM pg_sequences WHERE schemaname = 'public';
END $$
""")
# A table has pages once rows were written to it, even after they are deleted; VACUUM gives them back
# (a migrated table has none), only where there are any.
_POSTGRES_USED_TABLES = text("""
SELECT relname FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname <> 'alembic_version'
   AND pg_relation_size(oid) > 0
""")
_migrated: dict[str, object] = {}  # backend -> the migrated SQLite file, or PostgreSQL's schema digest


async def _migrate_postgres_from_scratch(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(engine)


async def _fresh_postgres(engine) -> None:
    """The database as right after `upgrade`: emptied if its schema is the migrated one, else rebuilt."""
    async with engine.connect() as conn:
        schema = (await conn.execute(_POSTGRES_SCHEMA)).scalar_one()
    if "postgresql" in _migrated and schema == _migrated["postgresql"]:
        try:
            async with engine.begin() as conn:
                await conn.execute(_POSTGRES_EMPTY)
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                used = (await conn.execute(_POSTGRES_USED_TABLES)).scalars().all()
                if used:
                    await conn.execute(text("VACUUM " + ", ".join(f'public."{name}"' for name in used)))
            return
        except Exception:  # e.g. a user that may not set session_replication_role: migrate instead
            pass
    await _migrate_postgres_from_scratch(engine)
    async with engine.connect() as conn:
        _migrated.setdefault("postgresql", (await conn.execute(_POSTGRES_SCHEMA)).scalar_one())


async def _fresh_sqlite(path: Path, template_dir: Path) -> None:
    """A copy of a file migrated once in this run."""
    if "sqlite" not in _migrated:
        template = template_dir / "migrated.sqlite3"
        engine = make_engine(f"sqlite+aiosqlite:///{template}")
        await upgrade(engine)
        await engine.dispose()
        with sqlite3.connect(template) as conn:  # everything in the main file, nothing left in the WAL
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        _migrated["sqlite"] = template
    template = _migrated["sqlite"]
    assert isinstance(template, Path)
    for suffix in ("", "-wal"):
        if Path(f"{template}{suffix}").exists():
            shutil.copyfile(f"{template}{suffix}", f"{path}{suffix}")


@pytest.fixture(params=BACKENDS)
async def db(request, tmp_path, tmp_path_factory) -> Database:
    """A freshly migrated database on each backend."""
    backend = request.param
    url = database_url(backend, tmp_path)
    if backend == "sqlite":
        await _fresh_sqlite(Path(make_url(url).database), tmp_path_factory.getbasetemp())
    engine = make_engine(url)
    if backend == "postgresql":
        try:
            await _fresh_postgres(engine)
        except (OSError, Exception) as exc:  # connection refused, auth, missing database
            await engine.dispose()
            service_missing(f"PostgreSQL at {POSTGRES_URL}", exc)
    database = Database(engine)
    database.backend = backend  # type: ignore[attr-defined]
    yield database
    await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def one_memory_settling_per_test_process():
    """A bot's start-up (bot/runtime.py `on_startup`) collects the process's whole heap and freezes
    what is left: once in a bot process's life. This process starts ~200 bots one after another
    (every end-to-end scenario): each start paid a full collection (0.31 s on average over 26
    scenarios on the loaded machine) and froze the finished scenarios' objects for good (cycles that
    only a collection frees: 845,000 frozen objects and 370 MB after those 26). Here the first
    start-up settles as a process does, and the later ones keep aiogram's response classes only;
    `settle_memory` itself is tested in tests/test_runtime.py."""
    from bot import runtime

    first = runtime.on_startup
    settled = False

    async def on_startup() -> None:
        nonlocal settled
        if settled:
            runtime.keep_api_models()
            return
        settled = True
        await first()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "on_startup", on_startup)
        yield


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium_executable() -> str:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        service_missing("Playwright", "playwright is not installed", "pip install -e '.[test]'")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if executable is None:
        service_missing("Chromium", f"{CHROMIUM} is missing", "apt-get install -y chromium fonts-noto-cjk fonts-noto-color-emoji")
    return executable


class _Chromium:
    """Playwright's driver and one Chromium, started by the first browser test and kept for the run."""

    def __init__(self) -> None:
        self.playwright = None
        self.browser = None

    async def get(self):
        if self.browser is None or not self.browser.is_connected():  # never started, or it crashed
            executable = _chromium_executable()
            if self.playwright is None:
                from playwright.async_api import async_playwright

                self.playwright = await async_playwright().start()
            self.browser = await self.playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        return self.browser

    async def close(self) -> None:
        if self.browser is not None and self.browser.is_connected():
            await self.browser.close()
        if self.playwright is not None:
            await self.playwright.stop()


# Playwright's driver (a Node process) took 4-5 s to start on the loaded machine and Chromium 1.3-2.4 s,
# for each browser test (14). Both now start once per run: Playwright's objects belong to the
# event loop that started them, so every test that uses `browser` runs, with all its async fixtures,
# on pytest-asyncio's session loop (`_function_scoped_runner` below); the other tests keep a loop each.
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _one_chromium():
    chromium = _Chromium()
    yield chromium
    await chromium.close()


@pytest.fixture
def _function_scoped_runner(_function_scoped_runner, request):
    """pytest-asyncio's loop for one test (1.x's runner fixture, extended): a browser test's is the
    session's, where the shared Chromium lives."""
    if "browser" in request.node.fixturenames:
        return request.getfixturevalue("_session_scoped_runner")
    return _function_scoped_runner


@pytest_asyncio.fixture(loop_scope="session")
async def browser(_one_chromium):
    """Debian's Chromium driven by Playwright; a browser is never downloaded. Each test gets the run's
    Chromium with nothing open in it: the pages and contexts it opens (each `new_page` is a context
    of its own: cookies, storage, downloads) are closed when it ends."""
    chromium = await _one_chromium.get()
    yield chromium
    if chromium.is_connected():
        for context in list(chromium.contexts):
            await context.close()
