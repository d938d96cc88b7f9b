"""How the privacy notice reads, in every channel (Telegram's buttons, WeChat's numbered answers)."""

from __future__ import annotations

from core.consent import PrivacyPolicy
from texts import Translator


def notice_text(tr: Translator, policy: PrivacyPolicy) -> str:
    """The notice of the current version, with the figures it names (how long photos are kept)."""
    return tr("privacy.notice", version=policy.notice_version, photo_days=policy.photo_retention_days)
