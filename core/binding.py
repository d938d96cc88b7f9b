"""Binding: one person, reached on a second channel. A registered person (or staff, for someone on the
roster who has no chat yet — imported grid members) gets a short code; whoever sends that code from
another chat account (WeChat, WeCom) becomes that person there.

A code is six digits, so an elderly resident can read it from one phone and type it on another:
too short to be unguessable, so it is made safe by the rest —

* one-time: the first bind uses it up;
* short-lived: `BIND_CODE_TTL` (10 minutes);
* one live code per person: a new one replaces the old;
* limited attempts: an account that sent `MAX_BIND_ATTEMPTS` wrong or stale codes within
  `ATTEMPT_WINDOW` is refused until the window has passed (each refusal is an event, and they
  are counted from the events, so the count survives restarts and is the same in every process).

Guessing one live code among a million takes half a million tries on average; five an hour per
account makes that thousands of years, and a code lives ten minutes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import DomainError

BIND_CODE_TTL = timedelta(minutes=10)
MAX_BIND_ATTEMPTS = 5
ATTEMPT_WINDOW = timedelta(hours=1)
CODE_DIGITS = 6


class UnknownBindCode(DomainError):
    """No live code like this (mistyped, or never issued)."""

    key = "bind.unknown"


class BindCodeExpired(DomainError):
    key = "bind.expired"


class BindCodeUsed(DomainError):
    key = "bind.used"


class TooManyBindAttempts(DomainError):
    key = "bind.too_many_attempts"


class AlreadyBound(DomainError):
    """The person already has an account on this channel (params: channel)."""

    key = "bind.already_bound"


@dataclass
class BindCode:
    code: str
    person_id: int                  # who the code binds to
    expires_at: datetime
    created_by: int | None = None   # the person themselves, or the staff member who issued it
    created_at: datetime | None = None
    used_at: datetime | None = None
    used_by: str | None = None      # "channel:external id" of the account that used it
    revoked: bool = False           # replaced by a newer code for the same person
    id: int | None = None

    def check_usable(self, now: datetime) -> None:
        if self.used_at is not None or self.revoked:
            raise BindCodeUsed()
        if now >= self.expires_at:
            raise BindCodeExpired()

    def use(self, account: str, now: datetime) -> None:
        self.check_usable(now)
        self.used_at, self.used_by = now, account


def new_bind_code() -> str:
    """Six digits, leading zeros kept: what a person reads out and types."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def normalise_code(typed: str) -> str | None:
    """The code in what was typed ("123 456", "１２３４５６"), or None when it is not six digits."""
    digits = "".join(ch for ch in typed if not ch.isspace())
    try:
        digits = "".join(str(int(ch)) for ch in digits)  # full-width digits from a Chinese keyboard
    except ValueError:
        return None
    return digits if len(digits) == CODE_DIGITS else None


def account_key(channel: str, external_id: str) -> str:
    """How an account is named in a binding's events and attempts."""
    return f"{channel}:{external_id}"


def attempts_left(refusals: list[datetime], now: datetime) -> int:
    """How many more codes an account may try, given when its earlier tries were refused."""
    recent = [at for at in refusals if now - at < ATTEMPT_WINDOW]
    return max(0, MAX_BIND_ATTEMPTS - len(recent))
