"""Proof on the spot ("现场确认") as a pure rule: distance, radius, flag; kept on the case and its event."""

from __future__ import annotations

import math

import pytest

from core import cases
from core.places import distance_m
from core.proof import DEFAULT_PROOF_RADIUS_M, OnSpot, SkipReason, judge, judge_nearest, skipped
from tests.test_cases import LI, after, later, working_case

SITE = (32.7056, 116.7108)           # 3号楼 in Fengtai county
BEIJING = (39.9042, 116.4074)        # another city, ~800 km away


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + math.degrees(metres / 6_371_008.8), point[1]


def test_haversine_agrees_with_a_known_distance():
    assert distance_m(*SITE, *north_of(SITE, 100)) == pytest.approx(100, abs=0.01)
    assert 790_000 < distance_m(*SITE, *BEIJING) < 820_000


def test_within_the_radius_is_on_the_spot_and_the_edge_counts():
    near = judge(*north_of(SITE, 40), *SITE)
    assert near.on_site and not near.flagged and near.distance_m == pytest.approx(40, abs=0.01)
    assert near.reason is None
    assert DEFAULT_PROOF_RADIUS_M == 150
    edge = judge(*north_of(SITE, 149.99), *SITE, radius_m=150)
    assert edge.on_site
    past = judge(*north_of(SITE, 151), *SITE, radius_m=150)
    assert not past.on_site and past.flagged and past.distance_m == pytest.approx(151, abs=0.01)
    assert judge(*north_of(SITE, 151), *SITE, radius_m=200).on_site   # the radius is a setting


def test_a_location_from_another_city_is_flagged_with_its_distance():
    far = judge(*BEIJING, *SITE)
    assert far.flagged and far.distance_m is not None and far.distance_m > 700_000


def test_nonsense_coordinates_and_a_place_without_position_prove_nothing():
    assert judge(95.0, 10.0, *SITE) == OnSpot(False, None, SkipReason.BAD_LOCATION.value)
    assert judge(float("nan"), 10.0, *SITE).flagged
    assert judge(*SITE, None, None) == OnSpot(False, None, SkipReason.NO_SITE_POSITION.value)
    with pytest.raises(ValueError):
        judge(*SITE, *SITE, radius_m=0)


def test_the_nearest_of_several_places_decides():
    other = north_of(SITE, 2000)
    verdict = judge_nearest(*north_of(other, 30), [SITE, other])
    assert verdict.on_site and verdict.distance_m == pytest.approx(30, abs=0.01)
    assert judge_nearest(*SITE, []).reason == SkipReason.NO_SITE_POSITION.value


def test_skipping_needs_a_reason_and_is_flagged():
    gone = skipped(SkipReason.ALREADY_LEFT)
    assert gone.flagged and gone.reason == "already_left" and gone.distance_m is None and gone.words is None
    typed = skipped(SkipReason.OTHER, "  手机  没电了 ")
    assert typed.reason == "other" and typed.words == "手机 没电了"
    with pytest.raises(ValueError):
        skipped(SkipReason.OTHER, "   ")
    with pytest.raises(ValueError):
        skipped("not-a-reason")
    assert len(skipped(SkipReason.OTHER, "字" * 1000).words or "") == 200


def test_resolve_keeps_the_verdict_on_the_case_and_its_event_not_the_position():
    case = working_case()
    cases.resolve(case, LI, after(), "清理了", later(30), proof=judge(*north_of(SITE, 60), *SITE))
    assert case.on_site is True and case.proof_distance_m == pytest.approx(60, abs=0.01)
    assert not cases.lacks_proof(case)
    event = case.pending_events[-1]
    assert event.kind == "resolved"
    assert event.after["on_site"] is True and event.after["distance_m"] == 60
    assert "lat" not in event.after and "lon" not in event.after


def test_resolved_far_or_skipped_is_resolved_all_the_same_and_flagged():
    far = working_case(1)
    cases.resolve(far, LI, after(), "清理了", later(30), proof=judge(*BEIJING, *SITE))
    assert far.state == cases.CaseState.RESOLVED and cases.lacks_proof(far)
    assert far.pending_events[-1].after["on_site"] is False
    gone = working_case(2)
    cases.resolve(gone, LI, after(), "清理了", later(30), proof=skipped(SkipReason.LOCATION_OFF))
    assert gone.state == cases.CaseState.RESOLVED and cases.lacks_proof(gone)
    assert gone.proof_reason == "location_off" and gone.pending_events[-1].after["proof_reason"] == "location_off"
    legacy = working_case(3)
    cases.resolve(legacy, LI, after(), "清理了", later(30))     # not asked: nothing flagged
    assert legacy.on_site is None and not cases.lacks_proof(legacy)
    assert "on_site" not in legacy.pending_events[-1].after
