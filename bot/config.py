"""What the Telegram channel reads of the settings.

The settings themselves are loaded, typed and documented in one place, `redgrid/settings.py`, by the
composition root (`redgrid/bootstrap.py`), which hands them to the dispatcher. bot/ only declares the
values it reads, so it does not import `redgrid` (the layers import downwards: tests/test_import_cycles.py).
`redgrid.settings.Settings` has all of them (tests/test_bootstrap.py checks it); a second channel
declares its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo


class Settings(Protocol):
    @property
    def tz(self) -> ZoneInfo: ...  # dates are shown in the community's zone (texts.moment_text)

    @property
    def default_language(self) -> str: ...  # for people whose client says neither zh nor en

    @property
    def data_dir(self) -> Path: ...  # where photos are kept (media.photos.PhotoStore)

    @property
    def page_size(self) -> int: ...  # buttons per page in pick lists

    @property
    def reopen_within_days(self) -> int: ...  # the auto-close message names it (older rows lack it)

    @property
    def nearest_building_max_m(self) -> int: ...  # a shared location farther than this matches no building

    @property
    def proof_radius_m(self) -> int: ...  # "现场确认": within this of the building (core.proof)

    @property
    def bot_username(self) -> str: ...  # for invite links when the Bot API is not asked

    @property
    def invite_ttl_hours(self) -> int: ...

    @property
    def invite_max_uses(self) -> int: ...

    @property
    def dashboard_enabled(self) -> bool: ...  # /dashboard answers with a sign-in link only when it is served

    @property
    def dashboard_url(self) -> str: ...  # the start of the link

    @property
    def dashboard_session_hours(self) -> int: ...  # told with the link

    @property
    def voice_max_bytes(self) -> int: ...  # the largest voice note kept (core.voice)
