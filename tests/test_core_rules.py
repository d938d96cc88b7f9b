"""Pure rules of core/: no database, no chat."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.errors import InviteExpired, InviteRevoked, InviteUsedUp, NoBuildingNearby, NotAllowed, PlaceMismatch
from core.invites import Invite, check_may_invite, code_from_payload, new_code
from core.people import GrantStatus, Role, RoleGrant, Roles, pick_language
from core.places import Building, Community, Compound, Grid, check_address, distance_m, nearest_buildings

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def test_distance_matches_known_value():
    # one thousandth of a degree of latitude is about 111 m everywhere
    assert distance_m(32.705, 116.71, 32.706, 116.71) == pytest.approx(111.2, abs=0.5)


def test_nearest_buildings_sorted_within_limit_and_skips_unknown_positions():
    a, b, c = Building(1, 1, "1号楼", 32.7050, 116.7100), Building(2, 1, "2号楼", 32.7060, 116.7100), \
        Building(3, 1, "无坐标")
    near = nearest_buildings([b, c, a], 32.7051, 116.7100, max_m=500)
    assert [x.name for x, _ in near] == ["1号楼", "2号楼"]
    assert near[0][1] < near[1][1]
    with pytest.raises(NoBuildingNearby):
        nearest_buildings([a, b], 39.9, 116.4, max_m=500)
    with pytest.raises(NoBuildingNearby):
        nearest_buildings([a], 123.0, 500.0, max_m=500)  # not a place on Earth


def test_check_address_refuses_a_building_under_the_wrong_parent():
    community, other = Community(1, 1, "东城社区", "DC"), Community(2, 1, "西城社区", "XC")
    compound, grid = Compound(10, 1, "粮食局小区"), Grid(100, 10, "第一网格")
    building = Building(1000, 100, "3号楼")
    assert check_address(community, compound, grid, building).full() == "东城社区 粮食局小区 3号楼"
    with pytest.raises(PlaceMismatch):
        check_address(other, compound, grid, building)
    with pytest.raises(PlaceMismatch):
        check_address(community, compound, Grid(101, 10, "第二网格"), building)


def _invite(**kw) -> Invite:
    return Invite(code="abc", role=Role.STAFF, expires_at=NOW + timedelta(hours=1), **kw)


def test_invite_redeemable_until_expiry_uses_and_revocation():
    _invite().check_redeemable(NOW)
    with pytest.raises(InviteExpired):
        _invite().check_redeemable(NOW + timedelta(hours=1))
    with pytest.raises(InviteUsedUp):
        _invite(max_uses=2, uses=2).check_redeemable(NOW)
    _invite(max_uses=2, uses=1).check_redeemable(NOW)
    with pytest.raises(InviteRevoked):
        _invite(revoked=True).check_redeemable(NOW)


def test_invite_codes_are_unique_and_fit_a_deep_link():
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(len("inv_" + c) <= 64 and all(ch.isalnum() or ch in "-_" for ch in c) for c in codes)
    assert code_from_payload("inv_abc") == "abc"
    assert code_from_payload("inv_") is None and code_from_payload("ref_x") is None


def test_who_may_invite_whom():
    staff = Roles([RoleGrant(1, 1, Role.STAFF, community_id=7)])
    admin = Roles([RoleGrant(2, 2, Role.ADMIN)])
    resident = Roles([RoleGrant(3, 3, Role.RESIDENT, building_id=1, community_id=7)])
    check_may_invite(None, Role.ADMIN, None)          # the operator at the command line
    check_may_invite(admin, Role.DEPARTMENT, None)
    check_may_invite(staff, Role.GRID_MEMBER, 7)
    check_may_invite(staff, Role.PARTY_MEMBER, 7)
    for roles, role, community in [(staff, Role.GRID_MEMBER, 8), (staff, Role.ADMIN, 7),
                                   (staff, Role.DEPARTMENT, 7), (resident, Role.GRID_MEMBER, 7),
                                   (admin, Role.RESIDENT, 7)]:
        with pytest.raises(NotAllowed):
            check_may_invite(roles, role, community)


def test_roles_ignore_pending_and_revoked_grants():
    roles = Roles([RoleGrant(1, 1, Role.PARTY_MEMBER, status=GrantStatus.PENDING, community_id=7),
                   RoleGrant(2, 1, Role.RESIDENT, status=GrantStatus.REVOKED, building_id=3),
                   RoleGrant(3, 1, Role.RESIDENT, building_id=4),
                   RoleGrant(4, 1, Role.GRID_MEMBER, grid_id=9)])
    assert roles.names == [Role.RESIDENT, Role.GRID_MEMBER]
    assert roles.home_building_id() == 4
    assert roles.grid_ids() == {9}
    assert [g.role for g in roles.pending] == [Role.PARTY_MEMBER]


@pytest.mark.parametrize("mine,client,expected", [
    (None, "zh-hans", "zh"), (None, "en-GB", "en"), (None, "ru", "zh"), (None, None, "zh"),
    ("en", "zh-hans", "en"), ("zh", "en", "zh"),
])
def test_language_choice(mine, client, expected):
    assert pick_language(mine, client, "zh") == expected
