"""A domain refusal (core.errors.DomainError) in the person's words, as every channel says it."""

from __future__ import annotations

from datetime import datetime, tzinfo

from core.errors import DomainError
from texts import Translator, moment_text


def refusal_text(tr: Translator, refusal: DomainError, tz: tzinfo | None = None, now: datetime | None = None) -> str:
    """The refusal in the person's words; a case state is named as residents read it, and a moment
    (an ISO timestamp under a key ending in `_at`) as they write it, when `tz` and `now` are given."""
    params = dict(refusal.params)
    if isinstance(params.get("state"), str):
        params["state"] = tr(f"state.{params['state']}")
    if tz is not None and now is not None:
        for key, value in refusal.params.items():
            if key.endswith("_at") and isinstance(value, str):
                try:
                    params[key] = moment_text(tr.lang, datetime.fromisoformat(value), tz, now)
                except ValueError:
                    pass
    return tr(refusal.key, **params)
