"""The composition root hands bot/ its settings: redgrid's Settings has every value bot/config.py declares."""

from __future__ import annotations

import inspect

from bot.config import Settings as BotSettings
from redgrid.settings import Settings


def test_redgrid_settings_have_everything_the_channel_reads():
    settings = Settings(_env_file=None)
    declared = [name for name, _ in inspect.getmembers(BotSettings) if not name.startswith("_")]
    assert "tz" in declared and "page_size" in declared
    missing = [name for name in declared if not hasattr(settings, name)]
    assert missing == []
