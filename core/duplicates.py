"""Is this problem already reported? Nearby open cases, and photos that look the same.

Before a resident submits, the bot shows up to three open cases of the same kind at the
same building or close by, so they can press "Same problem" (`cases.join_me_too`) instead
of filing a second case. Photos are compared by a 64-bit difference hash (dHash) computed
outside core from the image bytes; here we only compare the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Protocol, TypeVar

from core.cases import OPEN_STATES, Case, CaseState, Category, PhotoKind
from core.places import distance_m

_MASK64 = (1 << 64) - 1


class Reported(Protocol):
    """What telling "the same problem?" looks at: a `Case`, or just its `CaseSpot` (read only, so
    a frozen dataclass fits)."""

    @property
    def number(self) -> str: ...
    @property
    def category(self) -> Category: ...
    @property
    def building_id(self) -> int: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def is_open(self) -> bool: ...


@dataclass(frozen=True)
class CaseSpot:
    """Which case, what, where and when: enough to rank candidates for "the same problem" without
    loading whole cases with their photos and supporters (up to 20 candidates on every report)."""
    number: str
    category: Category
    state: CaseState
    building_id: int
    lat: float | None
    lon: float | None
    created_at: datetime

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


R = TypeVar("R", bound=Reported)


def similar_open_cases(candidates: Iterable[R], category: Category, building_id: int | None,
                       lat: float | None, lon: float | None, now: datetime, *,
                       within_m: float = 100, within_h: float = 48, limit: int = 3) -> list[R]:
    """Open cases of the same category, reported in the last `within_h` hours, at the same
    building or within `within_m` metres. Same building first, then nearest, then newest."""
    since = now - timedelta(hours=within_h)
    scored: list[tuple[int, float, float, R]] = []
    for case in candidates:
        if not case.is_open or case.category != category or case.created_at < since:
            continue
        same_building = building_id is not None and case.building_id == building_id
        metres = _distance(case, lat, lon)
        if not same_building and (metres is None or metres > within_m):
            continue
        scored.append((0 if same_building else 1, metres if metres is not None else 0.0,
                       -case.created_at.timestamp(), case))
    scored.sort(key=lambda row: row[:3])
    return [case for *_, case in scored[:limit]]


def hamming(a: int, b: int) -> int:
    """How many of the 64 bits differ between two dHashes.

    Hashes may come back from a database as signed 64-bit numbers; both forms compare alike.
    """
    return (_as_unsigned64(a) ^ _as_unsigned64(b)).bit_count()


def looks_same(a: int, b: int, max_distance: int = 6) -> bool:
    """Two photos of the same scene: resized, recompressed or slightly cropped copies stay close."""
    return hamming(a, b) <= max_distance


def cases_with_same_photo(dhash: int, candidates: Iterable[Case], max_distance: int = 6) -> list[Case]:
    """Open cases whose before-photos look like this one (the same picture sent again)."""
    return [case for case in candidates if case.is_open and any(
        p.dhash is not None and looks_same(dhash, p.dhash, max_distance) for p in case.photos_of(PhotoKind.BEFORE))]


def _distance(case: Reported, lat: float | None, lon: float | None) -> float | None:
    if lat is None or lon is None or case.lat is None or case.lon is None:
        return None
    return distance_m(lat, lon, case.lat, case.lon)


def _as_unsigned64(value: int) -> int:
    if not -(1 << 63) <= value <= _MASK64:
        raise ValueError(f"not a 64-bit hash: {value}")
    return value & _MASK64
