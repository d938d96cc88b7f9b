"""Proof on the spot ("现场确认"): was the person where the work is when they said it was done?

A photo sent in a chat carries neither place nor time (Telegram strips EXIF), so the grid member who
resolves a case, and the party member who checks in at a service post, are asked for a one-tap
location. This is the rule that judges it: the great-circle distance (haversine, `core.places`) to
the place, against a radius (`PROOF_RADIUS_M`, default 150 m). Only the verdict is kept — the
distance in metres and, when no location was given, the reason — never the position itself.

A proof that is not on the spot (too far, skipped, or the place has no known position) does not
stop the work: the case is resolved, the check-in counted, as before; it is flagged to the
community's staff (`/desk`) and counted on the dashboard.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Iterable

from core.places import distance_m

DEFAULT_PROOF_RADIUS_M = 150.0
MAX_REASON = 200  # a typed reason is kept to this many characters


class SkipReason(str, enum.Enum):
    """Why no location was given: the common answers get a button, the rest is typed."""

    ALREADY_LEFT = "already_left"          # fixed earlier, not there any more
    LOCATION_OFF = "location_off"          # the phone's location is off or refused
    FIXED_REMOTELY = "fixed_remotely"      # done by phone / by someone else on site
    OTHER = "other"                        # see the words
    # set by the system, never offered as a button
    NO_LOCATION_ON_WECOM = "wecom"         # WeCom's conversation offers no location step
    NO_SITE_POSITION = "no_site_position"  # the place has no known position to measure against
    BAD_LOCATION = "bad_location"          # the coordinates were not a place on Earth


# The reasons a person may pick from a button (the others are the system's).
OFFERED_REASONS = (SkipReason.ALREADY_LEFT, SkipReason.LOCATION_OFF, SkipReason.FIXED_REMOTELY)


@dataclass(frozen=True)
class OnSpot:
    """The verdict: `on_site` within the radius; `distance_m` when a location was given and the place
    has a position; `reason` (a `SkipReason` value) and `words` (typed) when it was not."""

    on_site: bool
    distance_m: float | None = None
    reason: str | None = None
    words: str | None = None

    @property
    def flagged(self) -> bool:
        """Staff should look at it: resolved (or checked in) without proof of being there."""
        return not self.on_site

    def event_view(self) -> dict[str, Any]:
        """What the transition's event keeps: the verdict, never the position."""
        return {"on_site": self.on_site,
                "distance_m": round(self.distance_m) if self.distance_m is not None else None,
                "proof_reason": self.reason, "proof_words": self.words}


def _valid(lat: float, lon: float) -> bool:
    return (all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lat, lon))
            and -90 <= lat <= 90 and -180 <= lon <= 180)


def judge(lat: float, lon: float, site_lat: float | None, site_lon: float | None,
          radius_m: float = DEFAULT_PROOF_RADIUS_M) -> OnSpot:
    """A shared location against the place's position: on the spot within `radius_m` (inclusive).

    A location from another city is simply far (flagged); coordinates that are not a place on Earth,
    or a place with no known position, cannot prove anything (flagged, with the reason)."""
    if radius_m <= 0:
        raise ValueError("the proof radius must be positive")
    if not _valid(lat, lon):
        return OnSpot(False, None, SkipReason.BAD_LOCATION.value)
    if site_lat is None or site_lon is None:
        return OnSpot(False, None, SkipReason.NO_SITE_POSITION.value)
    metres = distance_m(lat, lon, site_lat, site_lon)
    return OnSpot(metres <= radius_m, metres)


def judge_nearest(lat: float, lon: float, sites: Iterable[tuple[float, float]],
                  radius_m: float = DEFAULT_PROOF_RADIUS_M) -> OnSpot:
    """A shared location against the nearest of several places (a service post lies somewhere in its
    community: its buildings with a known position)."""
    verdicts = [judge(lat, lon, s_lat, s_lon, radius_m) for s_lat, s_lon in sites]
    if not verdicts:
        return judge(lat, lon, None, None, radius_m)
    measured = [v for v in verdicts if v.distance_m is not None]
    return min(measured, key=lambda v: v.distance_m or 0.0) if measured else verdicts[0]


def skipped(reason: SkipReason | str, words: str = "") -> OnSpot:
    """No location: the person gave a reason (a button's) or their own words (`SkipReason.OTHER`)."""
    code = SkipReason(reason)
    text = " ".join((words or "").split())[:MAX_REASON]
    if code == SkipReason.OTHER and not text:
        raise ValueError("a typed reason needs words")
    return OnSpot(False, None, code.value, text or None)
