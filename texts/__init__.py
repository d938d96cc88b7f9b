"""The text catalog: one dictionary per language, zh first. Logic never holds user-facing text."""

from __future__ import annotations

import logging
from datetime import datetime, timezone, tzinfo
from typing import Any, Mapping

from texts import en, zh

CATALOGS: dict[str, dict[str, str]] = {"zh": zh.TEXTS, "en": en.TEXTS}
log = logging.getLogger(__name__)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def text(lang: str, key: str, **params: object) -> str:
    """The text for `key` in `lang` (falling back to zh), with `params` filled in."""
    catalog = CATALOGS.get(lang, zh.TEXTS)
    template = catalog.get(key) or zh.TEXTS.get(key)
    if template is None:
        log.error("missing text key %s", key)
        template = zh.TEXTS["error.generic"]
    return template.format_map(_Blank({k: v for k, v in params.items()}))


def moment_text(lang: str, moment: datetime | None, tz: tzinfo, now: datetime) -> str:
    """A moment as the reader writes it, in their time zone `tz`: "12月28日 09:00", "Dec 28, 09:00";
    with the year when it is not the year of `now` there: "2027年1月4日 18:00", "Jan 4, 2027, 18:00".
    No moment: "—". Every date the bot shows a person goes through here."""
    if moment is None:
        return "—"
    local = moment.astimezone(tz)
    month = text(lang, "months").split()[local.month - 1]
    key = "moment" if local.year == now.astimezone(tz).year else "moment_with_year"
    return text(lang, key, year=local.year, month=month, day=local.day, time=f"{local:%H:%M}")


def local_times(payload: Mapping[str, Any], lang: str, tz: tzinfo, now: datetime) -> dict[str, Any]:
    """The payload with each ISO timestamp under a key ending in `_at` worded for a `lang` reader in `tz`
    (with its year when that is not the year of `now`). Payloads carry moments as ISO timestamps (JSON has
    no datetimes); a value that is not one (an older row's preformatted time) stays as it is."""
    fields = dict(payload)
    for key, value in payload.items():
        if not key.endswith("_at") or not isinstance(value, str):
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)  # storage keeps UTC
        fields[key] = moment_text(lang, moment, tz, now)
    return fields


class Translator:
    """`tr("key", name=…)` bound to one user's language; handlers get one per update."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str, **params: object) -> str:
        return text(self.lang, key, **params)
