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
