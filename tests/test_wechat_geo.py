"""GCJ-02 ↔ WGS84 against published point pairs, and a shared location landing on the right building."""

from __future__ import annotations

import pytest

from core.places import Building, distance_m, nearest_buildings
from wechat.geo import gcj02_to_wgs84, out_of_china, wgs84_of, wgs84_to_gcj02
from wechat.messages import Incoming

# (WGS84 lat, lon) → (GCJ-02 lat, lon): coordtransform's documented pair at Tiananmen (its test/app.js,
# also asserted by hutool's CoordinateUtilTest) and a pair from geotool's tests (Jiaxing).
PAIRS = [
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),
    ((30.6107779, 121.0917077), (30.608604331756705, 121.09626935575027)),
]


@pytest.mark.parametrize(("wgs", "gcj"), PAIRS)
def test_wgs84_to_gcj02_matches_the_published_pairs(wgs, gcj):
    lat, lon = wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-6) and lon == pytest.approx(gcj[1], abs=1e-6)  # ≈ 10 cm


@pytest.mark.parametrize(("wgs", "gcj"), PAIRS)
def test_gcj02_to_wgs84_finds_the_point_back_within_a_centimetre(wgs, gcj):
    lat, lon = gcj02_to_wgs84(*gcj)
    assert distance_m(lat, lon, *wgs) < 0.01


def test_gcj02_to_wgs84_agrees_with_gcoord_and_beats_the_one_step_inverse():
    # gcoord's GCJ02.spec.js: GCJ-02 (45, 123) → WGS84 (44.99804071, 122.99395597), to 5 decimals
    assert gcj02_to_wgs84(45, 123) == pytest.approx((44.99804071, 122.99395597), abs=5e-6)
    # coordtransform's one-step inverse of Tiananmen's GCJ point is off by more than a metre; ours is not
    one_step = (39.91359571849836, 116.39775550083061)
    ours = gcj02_to_wgs84(39.915, 116.404)
    assert distance_m(*wgs84_to_gcj02(*ours), 39.915, 116.404) < 0.001
    assert distance_m(*wgs84_to_gcj02(*one_step), 39.915, 116.404) > 0.05


def test_no_offset_outside_china():
    assert out_of_china(48.8566, 2.3522)
    assert wgs84_to_gcj02(48.8566, 2.3522) == (48.8566, 2.3522)
    assert gcj02_to_wgs84(48.8566, 2.3522) == (48.8566, 2.3522)


def test_a_location_shared_in_wechat_lands_on_the_right_building():
    """Two buildings 77 m apart; a resident standing at 3号楼 shares their location. WeChat reports it
    in GCJ-02, some 555 m off in Beijing: read as WGS84 it would match no building (or the wrong one)."""
    b3 = Building(3, 1, "3号楼", 39.9087, 116.3975)
    b5 = Building(5, 1, "5号楼", 39.9087, 116.3984)  # 77 m east
    gcj_lat, gcj_lon = wgs84_to_gcj02(b3.lat, b3.lon)
    assert distance_m(gcj_lat, gcj_lon, b3.lat, b3.lon) > 400
    shared = Incoming(app="mp", user="o-1", kind="location", create_time=1, msg_id="1", lat=gcj_lat, lon=gcj_lon)
    here = wgs84_of(shared)
    assert here is not None
    (best, metres), *_ = nearest_buildings([b3, b5], *here, max_m=100)
    assert best.name == "3号楼" and metres < 1
    assert wgs84_of(Incoming(app="mp", user="o-1", kind="text", create_time=1)) is None
