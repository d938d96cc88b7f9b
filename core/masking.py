"""Personal data shown to others, masked (PIPL: show others the least).

A small helper of the dashboard's (#19); the privacy work folds it into its own module.
"""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """"13812341234" → "138****1234"; short numbers keep only their last two digits; none: ""."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def may_see_phone(viewer_id: int, handler_id: int | None) -> bool:
    """On a case's page only the case's own handler reads the phones unmasked."""
    return handler_id is not None and viewer_id == handler_id
