"""Signing in to the dashboard without a password: a one-time link asked for in the chat.

A staff member (or an administrator) sends `/dashboard`; the bot answers with a link holding a
random token, valid for `SIGN_IN_TTL` and for one use. Only the token's SHA-256 is stored, so a
copy of the database opens no session. The session that follows is the web channel's (a signed
cookie, dashboard/session.py); every request loads the person's roles again, so a revoked grant
closes the dashboard at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import DomainError

SIGN_IN_TTL = timedelta(minutes=10)


class SignInLinkInvalid(DomainError):
    """Unknown, used or expired: the person is told to ask for a new one with /dashboard."""

    key = "dashboard.link_invalid"


@dataclass
class SignInLink:
    token_hash: str
    person_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
