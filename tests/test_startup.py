"""Start-up (issue #18): `--help` and the missing token's hint answer without loading aiogram or
pydantic, and say the right thing; the early look at BOT_TOKEN (redgrid/early.py) agrees with the
settings. How long they take is bench/startup.py's business, not a test's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from redgrid import early
from redgrid.cli import _parser

HEAVY = ("aiogram", "pydantic", "pydantic_settings", "sqlalchemy", "redgrid.settings", "redgrid.commands")
# `python -m redgrid.cli ARGS` as the console script runs it; then which heavy modules were loaded
PROBE = """
import json, sys
sys.argv = ["redgrid", *json.loads(sys.argv[1])]
from redgrid.cli import main
try:
    code = main()
except SystemExit as done:
    code = done.code
sys.stdout.flush()
print("\\nPROBE", json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)

COMMANDS = sorted(_parser()._subparsers._group_actions[0].choices)  # every subcommand, as the parser has them


def probe(args: list[str], cwd, env: dict[str, str] | None = None) -> tuple[dict, str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() != "bot_token"} if env is None else env
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    out, _, last = done.stdout.rpartition("\nPROBE ")
    assert last, done.stdout + done.stderr
    return json.loads(last), out, done.stderr


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in COMMANDS]], ids=" ".join)
def test_help_loads_neither_aiogram_nor_the_settings(args, tmp_path):
    result, out, _ = probe(args, tmp_path)
    assert result == {"code": 0, "loaded": []}
    assert out.startswith(f"usage: redgrid {args[0] if len(args) > 1 else ''}".rstrip())
    if args == ["--help"]:
        assert all(command in out for command in COMMANDS)


def test_the_missing_token_hint_loads_neither_aiogram_nor_the_settings(tmp_path):
    result, out, err = probe(["run"], tmp_path)
    assert result == {"code": 2, "loaded": []}
    assert out == "" and err.count("\n") == 1 and "@BotFather" in err and "redgrid demo" in err


def test_a_token_in_dotenv_is_no_missing_token(tmp_path):
    """The early look finds the token in .env, so `run` goes on to the settings (which here stop it
    with one line about a wrong setting, before anything connects)."""
    (tmp_path / ".env").write_text("BOT_TOKEN=123:abc\nTIMEZONE=Mars/Olympus\n")
    result, _, err = probe(["run"], tmp_path)
    assert result["code"] == 2 and "TIMEZONE" in err and "BotFather" not in err
    assert "redgrid.settings" in result["loaded"] and "aiogram" not in result["loaded"]


@pytest.mark.parametrize("environ, dotenv", [
    ({}, None),
    ({}, "BOT_TOKEN=123:abc\n"),
    ({}, "# the bot\nexport BOT_TOKEN='123:quoted'  # from @BotFather\n"),
    ({}, 'bot_token="123:lower"\n'),
    ({}, "BOT_TOKEN=\nDATABASE_URL=sqlite+aiosqlite:///x.sqlite3\n"),
    ({"BOT_TOKEN": "123:env"}, "BOT_TOKEN=123:file\n"),
    ({"bot_token": "123:lower-env"}, None),
    ({"BOT_TOKEN": ""}, "BOT_TOKEN=123:file\n"),  # an empty variable hides the file's value, as in the settings
])
def test_the_early_token_is_the_token_the_settings_read(environ, dotenv, tmp_path, monkeypatch):
    from redgrid.settings import load_settings

    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.lower() == "bot_token":
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    assert early.bot_token() == load_settings().bot_token
