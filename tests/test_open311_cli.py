"""`redgrid open311-key CLIENT`: a key printed once, only its hash kept, a second run replaces it."""

from __future__ import annotations

import re

from sqlalchemy import create_engine, text

from core.open311 import key_hash
from redgrid.cli import main
from tests.test_cli import workdir  # noqa: F401  (fixture)


def test_the_key_command_prints_a_key_once_and_a_second_replaces_it(workdir, capsys):
    assert main(["open311-key", "12345热线"]) == 0
    first = re.search(r"api_key=(\S+)", capsys.readouterr().out).group(1)
    assert main(["open311-key", "12345热线"]) == 0
    second = re.search(r"api_key=(\S+)", capsys.readouterr().out).group(1)
    assert first != second
    engine = create_engine(f"sqlite:///{workdir}/cli.sqlite3")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT name, key_hash FROM open311_clients")).all()
    assert stored == [("12345热线", key_hash(second))]


async def test_a_taken_dashboard_port_leaves_the_bot_running_without_it(tmp_path, caplog):
    import contextlib
    import socket

    from core.clock import SystemClock
    from redgrid.commands import serve_dashboard
    from redgrid.settings import Settings

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    settings = Settings(_env_file=None, dashboard_port=port, data_dir=tmp_path)
    try:
        async with contextlib.AsyncExitStack() as stack:
            assert await serve_dashboard(stack, None, settings, SystemClock()) is None
        assert "dashboard not served" in caplog.text
        free = settings.model_copy(update={"dashboard_port": 0})
        async with contextlib.AsyncExitStack() as stack:
            assert (await serve_dashboard(stack, None, free, SystemClock())).startswith("http://127.0.0.1:")
    finally:
        taken.close()
