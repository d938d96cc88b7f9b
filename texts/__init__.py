"""The text catalog: one dictionary per language, zh first. Logic never holds user-facing text."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

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


class Translator:
    """`tr("key", name=…)` bound to one user's language; handlers get one per update."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str, **params: object) -> str:
        return text(self.lang, key, **params)
