"""GCJ-02 ↔ WGS84: WeChat reports places in China's offset system, our buildings are in WGS84.

GCJ-02 (国测局坐标, "Mars coordinates") shifts a WGS84 point by a few hundred metres by a public
formula (the well-known one in eviltransform / coordtransform). WGS84 → GCJ-02 is that formula;
GCJ-02 → WGS84 has no closed form: we invert it by fixed-point iteration, which lands within a
millimetre (the usual one-step inverse is off by 1–2 m). Outside China there is no offset.
"""

from __future__ import annotations

import math

from wechat.messages import Incoming

_A = 6378245.0                  # Krasovsky 1940 semi-major axis, as the formula uses it
_EE = 0.00669342162296594323    # its eccentricity squared


def out_of_china(lat: float, lon: float) -> bool:
    """The rough box the offset applies in (the formula's own convention)."""
    return not (73.66 < lon < 135.05 and 3.86 < lat < 53.55)


def _delta_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _delta_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _offset(lat: float, lon: float) -> tuple[float, float]:
    d_lat = _delta_lat(lon - 105.0, lat - 35.0)
    d_lon = _delta_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if out_of_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _offset(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float, *, tolerance: float = 1e-9, rounds: int = 30) -> tuple[float, float]:
    """The WGS84 point whose GCJ-02 image is (lat, lon), by iteration (1e-9° ≈ 0.1 mm)."""
    if out_of_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(rounds):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        e_lat, e_lon = g_lat - lat, g_lon - lon
        w_lat, w_lon = w_lat - e_lat, w_lon - e_lon
        if abs(e_lat) < tolerance and abs(e_lon) < tolerance:
            break
    return w_lat, w_lon


def wgs84_of(incoming: Incoming) -> tuple[float, float] | None:
    """Where a location message or event is, in WGS84 (what core.places and our buildings use)."""
    if incoming.lat is None or incoming.lon is None:
        return None
    return gcj02_to_wgs84(incoming.lat, incoming.lon)
