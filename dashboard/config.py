"""What the dashboard reads of the settings (declared here, loaded by redgrid/settings.py and handed in
by the composition root, as bot/config.py does for the Telegram channel)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo


class Settings(Protocol):
    @property
    def tz(self) -> ZoneInfo: ...  # periods and moments in the community's zone

    @property
    def default_language(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...  # the photos (media.photos.PhotoStore)

    @property
    def dashboard_url(self) -> str: ...  # https: the cookies are Secure

    @property
    def dashboard_session_hours(self) -> int: ...

    @property
    def credit_grades(self) -> str: ...
