"""Domain errors. Each carries a text key so a channel can turn it into a polite reply."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. `key` names the user-facing text; `params` fill it in."""

    key = "error.generic"

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(f"{self.key} {params}" if params else self.key)


class NotAllowed(DomainError):
    key = "error.not_allowed"


class NotFound(DomainError):
    key = "error.not_found"


class UnknownInvite(DomainError):
    key = "invite.unknown"


class InviteExpired(DomainError):
    key = "invite.expired"


class InviteUsedUp(DomainError):
    key = "invite.used_up"


class InviteRevoked(DomainError):
    key = "invite.revoked"


class AlreadyHasRole(DomainError):
    key = "invite.already_has_role"


class PlaceMismatch(DomainError):
    """A building, compound or grid named together with a parent it does not belong to."""

    key = "place.mismatch"


class NoBuildingNearby(DomainError):
    key = "place.none_nearby"
