"""The grid: district → street → community → compound → grid → building.

Every building belongs to exactly one grid; a grid lies in one compound, and its
grid members ("一格一员") receive what residents of its buildings report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from core.errors import NoBuildingNearby, PlaceMismatch


@dataclass
class District:
    id: int | None
    name: str


@dataclass
class Street:
    id: int | None
    district_id: int
    name: str


@dataclass
class Community:
    id: int | None
    street_id: int
    name: str
    code: str  # short letters used in case numbers, e.g. "DC" → DC-2026-000123


@dataclass
class Compound:
    id: int | None
    community_id: int
    name: str
    property_company: str | None = None  # 物业服务企业 serving it, from the org file (rated on the dashboard)


@dataclass
class Grid:
    id: int | None
    compound_id: int
    name: str
    lat: float | None = None
    lon: float | None = None


@dataclass
class Building:
    id: int | None
    grid_id: int
    name: str
    lat: float | None = None
    lon: float | None = None

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class Address:
    """A building with the names above it, as residents and staff read it."""

    community: Community
    compound: Compound
    grid: Grid
    building: Building

    def short(self) -> str:
        return f"{self.compound.name} {self.building.name}"

    def full(self) -> str:
        return f"{self.community.name} {self.compound.name} {self.building.name}"


def check_address(community: Community, compound: Compound, grid: Grid, building: Building) -> Address:
    """Refuse a building named under a compound or community it does not belong to.

    Buttons carry ids; a stale or forged press can pair a building with the wrong parent.
    """
    if building.grid_id != grid.id or grid.compound_id != compound.id or compound.community_id != community.id:
        raise PlaceMismatch(building=building.name, community=community.name)
    return Address(community, compound, grid, building)


EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine); plenty for a few kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def bounding_box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """(south, north, west, east) around a point: a cheap first filter a database index can use
    before the exact `distance_m`. Never smaller than the circle of `metres`."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def nearest_buildings(
    buildings: Iterable[Building], lat: float, lon: float, *, max_m: float, limit: int = 3
) -> Sequence[tuple[Building, float]]:
    """The closest buildings with known positions within `max_m`, nearest first."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise NoBuildingNearby(max_m=int(max_m))
    scored = [
        (b, distance_m(lat, lon, b.lat, b.lon)) for b in buildings if b.lat is not None and b.lon is not None
    ]
    near = sorted((pair for pair in scored if pair[1] <= max_m), key=lambda pair: pair[1])
    if not near:
        raise NoBuildingNearby(max_m=int(max_m))
    return near[:limit]
