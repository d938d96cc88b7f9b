"""Every notification kind core can send is declared once (`core.notifications.KINDS`), a service
cannot send one that is not, and the Telegram renderer says every declared kind in Chinese and in
English (each language read on its own, so a key missing in English cannot hide behind the Chinese).

On the in-memory unit of work (tests/fakes.py): no database is needed to render.
"""

from __future__ import annotations

import io
import logging

import pytest
from PIL import Image

import core.notifications
import texts
from bot.rendering.notifications import NotificationRenderer
from core import cases_services
from core.cases import Actor, Category, PhotoKind
from core.notices import NOTICE_KIND
from core.onboarding import roles_of
from core.notifications import KINDS, Notification, UndeclaredKind, declared
from core.people import Identity, Person, Role, RoleGrant
from media.photos import PhotoStore
from redgrid.settings import Settings
from storage.broadcasts import FINISHED_KIND
from tests.factories import add_person, seed_world
from tests.fakes import FakeDatabase
from tests.test_reporting import MONDAY, POLICY

# One payload that fills the fields and buttons of every kind that is not about a case; the
# renderer takes what a kind needs from it.
SAMPLE = {"person": 7, "community": "东城社区", "name": "张三", "work_unit": "县财政局", "order": "DC-FW-2026-000001",
          "kind": "carrying", "description": "搬书柜", "preferred_time": "周末", "post": "DC-GW-2026-000001",
          "title": "政策宣讲", "capacity": 5, "points": 10, "balance": 30, "hours": 2, "reason": "人手不够",
          "starts_at": "2026-12-28T01:00:00+00:00", "place": "社区活动室", "names": "李四", "no_shows": 3,
          "month": 12, "day": 28, "posts": "· 政策宣讲 09:00–11:00", "text": "明天停水", "item": "洗衣粉",
          "broadcast_id": 1, "total": 10, "sent": 9, "failed": 1, "skipped": 0, "seconds": 12}
OVERRIDES = {"party.registration_requested": {"community": 3}}  # its buttons carry the community's id
# What a case kind's payload adds to the case's own fields.
CASE_SAMPLE = {"rating": 5, "comment": "还是黑的", "into": "DC-2026-000002", "days": 3, "department": "城管局",
               "to_kind": "property", "duplicate_of": "DC-2026-000002"}
# A reason is a button's code there (said in the reader's language), words or a code here.
CASE_OVERRIDES = {"case.reopened": {"reason": "partly"}, "case.supporter_not_fixed": {"reason": "came_back"},
                  "case.rejected": {"closure_reason": "not_our_responsibility"}}


def _jpeg(color: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
async def town(tmp_path):
    db = FakeDatabase()
    photos = PhotoStore(tmp_path / "photos")
    before = (await photos.save(_jpeg())).ref(PhotoKind.BEFORE)
    async with db.uow() as uow:
        w = await seed_world(uow)
        dc = w.communities["东城社区"]
        wang = await add_person(uow, w, "wang", "王阿姨", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                                  building_id=w.buildings["3号楼"].id))
        await add_person(uow, w, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=w.grids["粮食局第一网格"].id))
        case = await cases_services.report_problem(uow, POLICY, Actor(wang.id, await roles_of(uow, wang)),
                                                   w.buildings["3号楼"].id, Category.LIGHTS, [before], "楼道灯坏了",
                                                   MONDAY)
        await uow.commit()
    w.db, w.photos, w.case = db, photos, case
    return w


def _only(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave `lang`'s catalog the only one to read: a key missing there falls back to nothing."""
    catalog = texts.CATALOGS[lang]
    monkeypatch.setitem(texts.CATALOGS, "zh", catalog)
    monkeypatch.setattr(texts.zh, "TEXTS", catalog)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_declared_kind_is_rendered_in_each_language(town, tmp_path, lang, monkeypatch, caplog):
    _only(lang, monkeypatch)
    render = NotificationRenderer(Settings(_env_file=None, data_dir=tmp_path), town.photos)
    reporter, handler = town.people["wang"], town.people["li"]
    said: dict[tuple[str, int], str] = {}
    with caplog.at_level(logging.WARNING):
        async with town.db.uow() as uow:
            for kind in sorted(KINDS):
                is_case = kind.startswith("case.")
                payload = ({"case": town.case.number, "by": handler.id, **CASE_SAMPLE, **CASE_OVERRIDES.get(kind, {})} if is_case
                           else {**SAMPLE, **OVERRIDES.get(kind, {})})
                # a case kind is said differently to the first reporter and to others ("case.resolved")
                for person in (reporter, handler) if is_case else (reporter,):
                    reader = Person(person.id, person.display_name, lang)
                    out = await render(uow, Notification(person.id, kind, payload), reader,
                                       Identity(1, person.id, "telegram", str(person.id), str(person.id)))
                    assert out is not None and out.text.strip(), (kind, lang)
                    said[kind, person.id] = out.text
    assert [r.getMessage() for r in caplog.records] == []  # no key missing, no case unfound
    assert {kind for kind, _ in said} == KINDS


def test_the_kinds_made_outside_the_services_funnels_are_declared():
    assert NOTICE_KIND in KINDS and FINISHED_KIND in KINDS
    assert declared("post.new") == "post.new"
    with pytest.raises(UndeclaredKind):
        declared("post.cancelled")


async def test_a_case_service_cannot_send_a_kind_that_is_not_declared(town, monkeypatch):
    monkeypatch.setattr(core.notifications, "KINDS", KINDS - {"case.new_for_handler"})
    wang = town.people["wang"]
    async with town.db.uow() as uow:
        with pytest.raises(UndeclaredKind, match="case.new_for_handler"):
            await cases_services.report_problem(uow, POLICY, Actor(wang.id, await roles_of(uow, wang)),
                                                town.buildings["3号楼"].id, Category.GARBAGE,
                                                town.case.photos, "垃圾没人收", MONDAY)
    assert len(town.db.notifications("case.new_for_handler")) == 1  # the fixture's report only


async def test_a_volunteering_or_points_service_cannot_send_a_kind_that_is_not_declared(town, monkeypatch):
    """Points for a confirmed report are told through the volunteering services' funnel."""
    li, wang = town.people["li"], town.people["wang"]
    async with town.db.uow() as uow:
        actor = Actor(li.id, await roles_of(uow, li))
        await cases_services.accept_case(uow, actor, town.case.number, MONDAY)
        after = (await town.photos.save(_jpeg("green"))).ref(PhotoKind.AFTER)
        await cases_services.resolve_case(uow, actor, town.case.number, after, "换了灯泡", MONDAY)
        await uow.commit()
    monkeypatch.setattr(core.notifications, "KINDS", KINDS - {"points.report_earned"})
    async with town.db.uow() as uow:
        with pytest.raises(UndeclaredKind, match="points.report_earned"):
            await cases_services.confirm_fix(uow, Actor(wang.id, await roles_of(uow, wang)), town.case.number, 5,
                                             MONDAY)
    assert town.db.notifications("points.report_earned") == []
