"""Sessions in signed cookies, and CSRF tokens bound to them.

A session cookie is `person.expires.nonce.signature` (HMAC-SHA256 with the secret): nothing is kept
on the server, and a changed byte is a missing session. Every request loads the person's roles again
(core.sign_in_services.viewer_of), so revoking a grant ends the dashboard for them at once. The CSRF
token of a form is the HMAC of the session's nonce: a page of another site cannot read it, and every
POST must send it back. Before a session exists (the sign-in form) a random pre-session cookie plays
the nonce's part, so nobody can sign someone else in with their own link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

SESSION_COOKIE = "rg_session"
PRE_COOKIE = "rg_pre"


@dataclass(frozen=True)
class Session:
    person_id: int
    expires: datetime
    nonce: str


class Signer:
    def __init__(self, secret: str | bytes, hours: int) -> None:
        self.key = secret.encode() if isinstance(secret, str) else secret
        self.lifetime = timedelta(hours=hours)

    def _sign(self, text: str) -> str:
        mac = hmac.new(self.key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def new_session(self, person_id: int, now: datetime) -> tuple[str, Session]:
        session = Session(person_id, now + self.lifetime, secrets.token_urlsafe(12))
        body = f"{person_id}.{int(session.expires.timestamp())}.{session.nonce}"
        return f"{body}.{self._sign(body)}", session

    def read(self, value: str | None, now: datetime) -> Session | None:
        """The session in a cookie, if its signature is ours and it has not expired."""
        if not value or value.count(".") != 3:
            return None
        body, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        person, expires, nonce = body.split(".")
        try:
            session = Session(int(person), datetime.fromtimestamp(int(expires), timezone.utc), nonce)
        except ValueError:
            return None
        return session if now < session.expires else None

    def csrf(self, nonce: str) -> str:
        return self._sign(f"csrf:{nonce}")

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce and token) and hmac.compare_digest(self.csrf(nonce or ""), token or "")
