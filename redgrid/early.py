"""What the command line knows before it loads anything heavy (issue #18: start-up).

`redgrid --help`, `redgrid <command> --help` and `redgrid run` without a token answer in a fraction
of a second: redgrid/cli.py parses the arguments with nothing imported but argparse, and asks here
whether a bot token is set before it imports pydantic (redgrid/settings.py, ~0.6 s of CPU) or
aiogram (3–9 s of CPU). Everything else waits for the full, validated settings.

The token is read exactly where and as pydantic-settings reads it for `Settings.bot_token`: the
environment first (the name in any case), else `.env` in the working directory, parsed by the same
python-dotenv that pydantic-settings uses. An empty value in the environment hides the file's, as it
does there. With a token set nothing is decided here: the settings are loaded and checked as always.
"""

from __future__ import annotations

import os

ENV_FILE = ".env"  # redgrid/settings.py's `env_file`


def bot_token() -> str:
    """BOT_TOKEN as `load_settings().bot_token` will see it (whitespace kept, as there)."""
    for name, value in os.environ.items():
        if name.lower() == "bot_token":
            return value
    if not os.path.isfile(ENV_FILE):
        return ""
    from dotenv import dotenv_values

    for name, value in dotenv_values(ENV_FILE, encoding="utf-8").items():
        if name.lower() == "bot_token":
            return value or ""
    return ""
