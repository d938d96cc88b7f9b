"""/mydata holds every kind of record there is about a person, and after /forget no row or file names or
shows them (issue #17), on both databases. The schema is walked, so a new table that holds a person
cannot be forgotten by either."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import JSON, Column, ForeignKey, Integer, MetaData, String, Table, Text, insert, select

from core import cases_services
from core.cases import Actor, CaseState, Category, PhotoKind
from core.consent import PrivacyPolicy
from core.consent_services import arrive
from core.errors import NotAllowed
from core.notifications import Notification
from core.onboarding import meet, roles_of
from core.people import Role, RoleGrant
from core.personal_data import AlreadyForgotten, mask, redact_text
from core.personal_data_services import forget, my_data
from media.photos import PhotoStore
from media.voice import VoiceStore
from core.voice import VoiceClip, VoiceNote, VoicePurpose
from redgrid.bootstrap import report_policy
from redgrid.settings import Settings
from storage import case_tables as ct, tables as t, volunteer_tables as vt
from storage.personal_data import BY_CHAT_ACCOUNT, BY_WECHAT_ACCOUNT, NOT_EXPORTED, person_columns
from tests.factories import add_person, seed_world

NAME, PHONE, TG_ID = "欧阳秀兰", "13912345678", "86753090"
WX_ID = "o-ouyang-openid"  # her WeChat account (OpenID)
# a column whose name says it holds a person (or their chat account) without saying how
LOOKS_LIKE_A_PERSON = re.compile(r"(^|_)(person|user|actor|reporter|handler|resident|member)_id$|(^|_)by$|(^|_)chat_id$")


def uncovered(metadata: MetaData) -> list[str]:
    """Columns that hold a person but that /mydata neither exports nor leaves out with a reason."""
    exported = {c.table.name for c in person_columns(metadata)} | set(BY_CHAT_ACCOUNT) | set(BY_WECHAT_ACCOUNT)
    missing = []
    for table in metadata.sorted_tables:
        refers = {c.name for c in table.columns
                  if any(fk.column.table.name == "persons" for fk in c.foreign_keys)}
        for column in table.columns:
            if f"{table.name}.{column.name}" in NOT_EXPORTED:
                continue
            if column.name in refers and table.name in exported:
                continue
            if LOOKS_LIKE_A_PERSON.search(column.name) and table.name not in exported:
                missing.append(f"{table.name}.{column.name}")
            elif column.name in refers:
                missing.append(f"{table.name}.{column.name}")
    return missing


def test_every_column_that_holds_a_person_is_exported_or_left_out_with_a_reason():
    assert uncovered(t.metadata) == []
    assert all(len(reason) > 40 for reason in NOT_EXPORTED.values())
    # the check itself: a new table naming a person without a foreign key is caught
    spare = MetaData()
    for table in t.metadata.sorted_tables:
        table.to_metadata(spare)
    Table("complaints", spare, Column("id", Integer, primary_key=True), Column("resident_id", Integer),
          Column("note", String(100)))
    assert uncovered(spare) == ["complaints.resident_id"]


def test_ids_are_masked_and_names_redacted_as_words():
    assert mask("86753090") == "86****90" and mask("13912345678") == "139*****678" and mask("42") == "**"
    assert redact_text("Li said: Lights are out", ["Li"]) == "— said: Lights are out"
    assert redact_text("欧阳秀兰说楼道灯坏了", [NAME]) == "—说楼道灯坏了"


def _jpeg(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


class Everything:
    """One person holding one of every kind of record, and the people around her."""


async def seed_everything(db, now, data_dir: Path) -> Everything:
    e = Everything()
    e.photos = PhotoStore(data_dir)
    async with db.uow() as uow:
        e.world = w = await seed_world(uow)
        dc, building = w.communities["东城社区"], w.buildings["3号楼"]
        e.handler = await add_person(uow, w, "li", "李网格", RoleGrant(
            None, 0, Role.GRID_MEMBER, grid_id=w.grids["粮食局第一网格"].id, community_id=dc.id))
        e.staff = await add_person(uow, w, "chen", "陈书记", RoleGrant(None, 0, Role.STAFF, community_id=dc.id))
        e.neighbour = await add_person(uow, w, "zhang", "张女士", RoleGrant(
            None, 0, Role.RESIDENT, community_id=dc.id, building_id=building.id))
        # she agrees in the chat (person, account, consent, events), gives her phone and takes roles
        e.me = me = await meet(uow, "telegram", TG_ID, TG_ID, NAME, now)
        me.phone = PHONE
        await uow.people.update(me)
        for grant in (RoleGrant(None, me.id, Role.RESIDENT, community_id=dc.id, building_id=building.id),
                      RoleGrant(None, me.id, Role.PARTY_MEMBER, community_id=dc.id, work_unit="县人民医院"),
                      RoleGrant(None, e.neighbour.id, Role.PARTY_MEMBER, community_id=dc.id, granted_by=me.id)):
            grant.created_at = now
            await uow.people.add_grant(grant)
        await uow.commit()

    policy = report_policy(Settings(_env_file=None))
    before = await e.photos.save(_jpeg("navy"))
    open_before = await e.photos.save(_jpeg("green"))
    after = await e.photos.save(_jpeg("yellow"))
    check_in = await e.photos.save(_jpeg("purple"))
    e.my_photos = [before.sha256, open_before.sha256, check_in.sha256]
    e.after_photo = after.sha256
    async with db.uow() as uow:
        me_actor = Actor(me.id, await roles_of(uow, me))
        handler = Actor(e.handler.id, await roles_of(uow, e.handler))
        resolved = await cases_services.report_problem(uow, policy, me_actor, building.id, Category.LIGHTS,
                                                       [before.ref(PhotoKind.BEFORE)], f"楼道灯坏了，{NAME}，电话{PHONE}", now)
        await cases_services.accept_case(uow, handler, resolved.number, now)
        await cases_services.resolve_case(uow, handler, resolved.number, after.ref(PhotoKind.AFTER), "换了灯泡", now)
        still_open = await cases_services.report_problem(uow, policy, me_actor, building.id, Category.GARBAGE,
                                                         [open_before.ref(PhotoKind.BEFORE)], "垃圾没清", now)
        neighbours = await cases_services.report_problem(
            uow, policy, Actor(e.neighbour.id, await roles_of(uow, e.neighbour)), building.id, Category.PARKING,
            [(await e.photos.save(_jpeg("white"))).ref(PhotoKind.BEFORE)], "车堵了消防通道", now)
        e.resolved, e.still_open, e.neighbours = resolved.number, still_open.number, neighbours.number
        # the words of the open one, spoken (core.voice): a row and a file under the data folder
        e.voices = VoiceStore(data_dir)
        e.my_voice, mime = await e.voices.save(b"OggS" + f"{NAME} says".encode())
        await uow.voice_notes.add(VoiceNote(None, me.id, VoicePurpose.REPORT, VoiceClip(e.my_voice, 42, mime, 20),
                                            now, case_id=still_open.id))
        conn = uow.conn
        await conn.execute(insert(ct.case_me_too).values(case_id=neighbours.id, person_id=me.id, joined_at=now))
        # a case she handled once, in an earlier role (closed: someone handling open cases hands them over first)
        await conn.execute(ct.cases.update().where(ct.cases.c.id == neighbours.id).values(
            handler_id=me.id, state="closed", closure_reason="fixed", closed_at=now, next_check_at=None))
        # volunteering: an order, a post she created, her confirmed shift (with its photo and place), a
        # shift she confirmed, her points and standing
        await conn.execute(insert(vt.volunteer_orders).values(
            number="DC-FW-2026-000001", resident_id=me.id, community_id=dc.id, kind="errand",
            description=f"帮忙取药，打{PHONE}", preferred_time="周六上午", place="3号楼 502", state="open",
            created_at=now, updated_at=now))
        post_id = (await conn.execute(insert(vt.volunteer_posts).values(
            number="DC-GW-2026-000001", community_id=dc.id, title="清理楼道", starts_at=now - timedelta(days=2),
            ends_at=now - timedelta(days=2, hours=-2), place="3号楼", capacity=3, points_per_person=10,
            state="done", created_at=now, updated_at=now, skills=[], created_by=me.id))).inserted_primary_key[0]
        await conn.execute(insert(vt.volunteer_claims).values(
            post_id=post_id, person_id=me.id, state="confirmed", queued_at=now, updated_at=now, claimed_at=now,
            checked_in_at=now, check_in_photo=check_in.sha256, check_in_lat=32.7, check_in_lon=116.7,
            checked_out_at=now, served_seconds=7200, rating=5, confirmed_by=e.staff.id))
        await conn.execute(insert(vt.volunteer_claims).values(
            post_id=post_id, person_id=e.neighbour.id, state="confirmed", queued_at=now, updated_at=now,
            served_seconds=3600, confirmed_by=me.id))
        await conn.execute(insert(vt.points_entries).values(
            person_id=me.id, community_id=dc.id, delta=10, reason="post", ref="DC-GW-2026-000001", at=now,
            by=e.staff.id, note=""))
        await conn.execute(insert(vt.points_entries).values(
            person_id=e.neighbour.id, community_id=dc.id, delta=5, reason="manual", ref="gift", at=now, by=me.id,
            note=f"{NAME}送的"))
        await conn.execute(insert(vt.points_balances).values(person_id=me.id, community_id=dc.id, balance=10))
        await conn.execute(insert(vt.volunteer_standings).values(person_id=me.id, community_id=dc.id, no_shows=0,
                                                                 suspended=False))
        # invites she made and one tied to her; a broadcast she started
        for code, person_id, created_by in (("inv-made", None, me.id), ("inv-hers", me.id, e.staff.id)):
            await conn.execute(insert(t.invites).values(code=code, role="staff", expires_at=now + timedelta(days=1),
                                                        max_uses=1, uses=0, person_id=person_id,
                                                        created_by=created_by, created_at=now, revoked=False))
        await conn.execute(insert(t.broadcasts).values(title="停水通知", kind="notice", created_by=me.id,
                                                      created_at=now, total=0))
        # staff looked at her data, and she at someone's once; bind codes she had and issued; her reporting
        # suspended once; a dashboard sign-in link and an Open311 client in her name (as staff)
        from storage import audit_tables, wechat_tables
        await conn.execute(insert(audit_tables.audit_log).values(at=now, viewer_id=e.staff.id, person_id=me.id,
                                                                 what="case.reporter", subject=resolved.number))
        await conn.execute(insert(audit_tables.audit_log).values(at=now, viewer_id=me.id, person_id=e.neighbour.id,
                                                                 what="members", subject="DC"))
        await conn.execute(insert(t.bind_codes).values(code="123456", person_id=me.id, expires_at=now,
                                                       created_by=e.staff.id, created_at=now, revoked=False))
        await conn.execute(insert(t.bind_codes).values(code="654321", person_id=e.neighbour.id, expires_at=now,
                                                       created_by=me.id, created_at=now, revoked=False))
        await conn.execute(insert(ct.reporting_suspensions).values(
            person_id=me.id, reason="刷屏", suspended_by=e.staff.id, since=now))
        await conn.execute(insert(ct.reporting_suspensions).values(
            person_id=e.neighbour.id, reason="刷屏", suspended_by=me.id, since=now))
        await conn.execute(insert(t.sign_in_links).values(token_hash="a" * 64, person_id=me.id, created_at=now,
                                                          expires_at=now))
        await conn.execute(insert(t.open311_clients).values(name="12345", key_hash="b" * 64, person_id=me.id,
                                                            created_at=now, revoked=False))
        # she also writes to the Official Account: her WeChat account, its dialog, window, sends and a callback
        await conn.execute(insert(t.identities).values(person_id=me.id, channel="wechat", external_id=WX_ID,
                                                       chat_id=WX_ID, reachable=True))
        await conn.execute(insert(t.wechat_dialogs).values(channel="wechat", user_id=WX_ID, state="report.words",
                                                           data={"words": f"我是{NAME}"}, updated_at=now))
        await conn.execute(insert(wechat_tables.wechat_contacts).values(channel="wechat", user_id=WX_ID,
                                                                        last_message_at=now, window_used=1))
        await conn.execute(insert(wechat_tables.wechat_sends).values(channel="wechat", user_id=WX_ID, at=now,
                                                                     via="custom"))
        await conn.execute(insert(wechat_tables.wechat_inbox).values(dedupe_key="mp:1", app="mp", user_id=WX_ID,
                                                                     received_at=now, state="handled",
                                                                     reply=f"{NAME}，您好"))
        # staff were told her name; an unfinished dialog and an update of hers wait
        await uow.outbox.add(Notification(e.staff.id, "party.registration_requested",
                                          {"person": me.id, "name": NAME, "work_unit": "县人民医院"}))
        await conn.execute(insert(t.dialog_state).values(
            bot_id=4242, chat_id=int(TG_ID), user_id=int(TG_ID), thread_id=0, business_connection_id="",
            destiny="default", state="ReportScene:describe", data={"description": f"我是{NAME}"}))
        await conn.execute(insert(t.inbox).values(
            update_id=777, bot_id=4242, digest="0" * 64, received_at=now, state="handled", handled_at=now,
            raw={"update_id": 777, "message": {"message_id": 5, "date": 1, "text": f"我是{NAME} {PHONE}",
                                               "chat": {"id": int(TG_ID), "type": "private", "first_name": NAME},
                                               "from": {"id": int(TG_ID), "is_bot": False, "first_name": NAME}}}))
        await uow.commit()
    return e


async def test_mydata_holds_every_kind_of_record_about_her(db, now, tmp_path):
    e = await seed_everything(db, now, tmp_path / "data")
    async with db.uow() as uow:
        export = await my_data(uow, Actor(e.me.id, await roles_of(uow, e.me)), e.me.id, now)
        await uow.commit()
    document = json.loads(export.content)
    sections = document["sections"]
    wanted = {f"{c.table.name}.{c.name}" for c in person_columns()} | {
        "persons.id", "events.subject (person)", "events.subject (your reports)", *BY_CHAT_ACCOUNT, *BY_WECHAT_ACCOUNT}
    assert {name for name, rows in sections.items() if rows} == wanted  # every kind, none empty
    assert document["summary"]["reports"] == 2 and document["summary"]["service_hours"] == 2.0
    assert document["summary"]["points"] == 10
    assert [c["purpose"] for c in document["summary"]["consents"]] == ["notice"]
    assert {c["number"] for c in sections["cases.reporter_id"]} == {e.resolved, e.still_open}
    assert sections["cases.reporter_id"][0]["building_id_name"] == "3号楼"  # places named, not only numbered
    assert TG_ID not in export.content.decode()  # her account id is masked
    assert "inbox.raw" in document["not_included"]


async def test_only_she_or_an_administrator_gets_her_data(db, now, tmp_path):
    e = await seed_everything(db, now, tmp_path / "data")
    async with db.uow() as uow:
        with pytest.raises(NotAllowed):
            await my_data(uow, Actor(e.staff.id, await roles_of(uow, e.staff)), e.me.id, now)
        with pytest.raises(NotAllowed):
            await forget(uow, Actor(e.neighbour.id, await roles_of(uow, e.neighbour)), e.me.id, now, e.photos)


def _needles_in(value, needles) -> set[str]:
    if value is None:
        return set()
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return {n for n in needles if n in text}


async def _everything_that_names(db, needles, ids) -> list[str]:
    """Every row of every table: text and JSON columns searched for the needles, number columns for her
    chat account's id."""
    found = []
    async with db.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                for column in table.columns:
                    value = row._mapping[column.name]
                    if isinstance(column.type, (String, Text, JSON)):
                        hits = _needles_in(value, needles)
                    else:
                        hits = {str(value)} & ids if isinstance(value, int) else set()
                    found += [f"{table.name}.{column.name}: {hit}" for hit in hits]
    return found


def _files_that_name(folder: Path, needles) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path}: {n}" for n in needles if n in str(path) or n.encode() in content]
    return found


async def test_after_forget_no_row_or_file_names_or_shows_her(db, now, tmp_path):
    data_dir = tmp_path / "data"
    e = await seed_everything(db, now, data_dir)
    needles = [NAME, PHONE, TG_ID, WX_ID, *e.my_photos, e.my_voice]
    assert await _everything_that_names(db, needles, {TG_ID}) and _files_that_name(data_dir, needles)  # before
    assert e.voices.exists(e.my_voice)
    later = now + timedelta(hours=1)
    async with db.uow() as uow:
        done = await forget(uow, Actor(e.me.id, await roles_of(uow, e.me)), e.me.id, later, e.photos, e.voices)
        await uow.commit()  # her photo files go once this is committed

    assert await _everything_that_names(db, needles, {TG_ID}) == []
    assert _files_that_name(data_dir, needles) == []
    assert e.photos.exists(e.after_photo)  # the handler's proof of the fix stays
    assert done.reports == 2 and done.closed_now == [e.resolved]
    async with db.uow() as uow:
        resolved, still_open = await uow.cases.by_number(e.resolved), await uow.cases.by_number(e.still_open)
        told = [(n.kind, n.payload["case"]) for n in await _outbox(uow, e.handler.id)]
        hours = (await uow.conn.execute(select(vt.volunteer_claims.c.served_seconds)
                                        .where(vt.volunteer_claims.c.person_id == e.me.id))).scalar()
        me = await uow.people.get(e.me.id)
        neighbours = await uow.cases.by_number(e.neighbours)
        arrival = await arrive(uow, PrivacyPolicy(), "telegram", TG_ID, later)
        staff_note = [n.payload for n in await _outbox(uow, e.staff.id) if n.kind == "party.registration_requested"]
    # her reports stay for the statistics, without her photos, and nobody asks her to confirm
    assert resolved.state == CaseState.CLOSED and resolved.rating is None and resolved.reporter_left_at == later
    assert still_open.is_open and still_open.photos_of(PhotoKind.BEFORE) == []
    assert resolved.photos_of(PhotoKind.AFTER)[0].sha256 == e.after_photo
    assert ("case.reporter_left", e.still_open) in told and ("case.reporter_left_closed", e.resolved) in told
    assert e.me.id not in neighbours.me_too
    assert hours == 7200  # her hours stay, as an anonymous total
    assert me.display_name == "—" and me.phone is None and me.forgotten_at == later
    assert staff_note == [{"person": e.me.id, "name": "—", "work_unit": "县人民医院"}]
    assert arrival.newcomer and arrival.must_agree  # writing again, she is a newcomer
    async with db.uow() as uow:
        with pytest.raises(AlreadyForgotten):
            await forget(uow, Actor(e.me.id, await roles_of(uow, e.me)), e.me.id, later, e.photos)
        kinds = [ev.kind for ev in await uow.events.of("person", str(e.me.id))]
    assert kinds[-1] == "forgotten"


async def test_the_handler_resolving_after_she_left_closes_it_without_asking_her(db, now, tmp_path):
    e = await seed_everything(db, now, tmp_path / "data")
    async with db.uow() as uow:
        await forget(uow, Actor(e.me.id, await roles_of(uow, e.me)), e.me.id, now, e.photos)
        await uow.commit()
    after = await e.photos.save(_jpeg("orange"))
    async with db.uow() as uow:
        handler = Actor(e.handler.id, await roles_of(uow, e.handler))
        await cases_services.accept_case(uow, handler, e.still_open, now)
        case = await cases_services.resolve_case(uow, handler, e.still_open, after.ref(PhotoKind.AFTER), "清走了", now)
        await uow.commit()
        asked = [n for n in await _outbox(uow, e.me.id)]
    assert case.state == CaseState.CLOSED and case.rating is None
    assert asked == []  # nothing addressed to her


async def test_an_administrator_may_forget_someone_on_request(db, now, tmp_path):
    e = await seed_everything(db, now, tmp_path / "data")
    async with db.uow() as uow:
        admin = await add_person(uow, e.world, "admin", "周管理员", RoleGrant(None, 0, Role.ADMIN))
        await forget(uow, Actor(admin.id, await roles_of(uow, admin)), e.me.id, now, e.photos)
        await uow.commit()
        events = await uow.events.of("person", str(e.me.id))
    assert events[-1].kind == "forgotten" and events[-1].actor_id == admin.id and events[-1].after["by"] == "admin"


async def _outbox(uow, person_id):
    rows = await uow.conn.execute(select(t.outbox).where(t.outbox.c.person_id == person_id).order_by(t.outbox.c.id))
    return [Notification(r.person_id, r.kind, r.payload) for r in rows]


async def test_migration_0013_builds_what_the_tables_declare(db):
    """`alembic upgrade` ran in the fixture: the consents table and the new columns are as storage declares."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), t.metadata))
    ours = ("'consents'", "notice_version", "location_agreed_at", "forgotten_at", "reporter_left_at")
    assert [d for d in diffs if any(name in repr(d) for name in ours)] == []


async def test_the_handler_reads_that_the_reporter_left(db, now, tmp_path):
    from bot.rendering.cases import CaseRenderer
    from texts import Translator

    e = await seed_everything(db, now, tmp_path / "data")
    async with db.uow() as uow:
        await forget(uow, Actor(e.me.id, await roles_of(uow, e.me)), e.me.id, now, e.photos)
        await uow.commit()
    renderer = CaseRenderer(Settings(_env_file=None, data_dir=tmp_path / "data"), e.photos)
    async with db.uow() as uow:
        told = {n.kind: n for n in await _outbox(uow, e.handler.id)}
        texts = [(await renderer.render(uow, told[kind], e.handler, "zh")).text
                 for kind in ("case.reporter_left", "case.reporter_left_closed")]
        history = await renderer.history(uow, await uow.cases.by_number(e.resolved), Translator("zh"), now)
    assert e.still_open in texts[0] and "不再请居民确认" in texts[0]
    assert e.resolved in texts[1] and "按已解决办结" in texts[1]
    assert "反映人已注销" in history and NAME not in history


async def test_a_party_member_holding_a_place_to_come_withdraws_first(db, now, tmp_path):
    from core.personal_data import StillVolunteering

    e = await seed_everything(db, now, tmp_path / "data")
    async with db.uow() as uow:
        dc = e.world.communities["东城社区"]
        post_id = (await uow.conn.execute(insert(vt.volunteer_posts).values(
            number="DC-GW-2026-000002", community_id=dc.id, title="陪老人看病", starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=1, hours=2), place="社区医院", capacity=1, points_per_person=10,
            state="full", created_at=now, updated_at=now, skills=[], places_taken=1))).inserted_primary_key[0]
        await uow.conn.execute(insert(vt.volunteer_claims).values(
            post_id=post_id, person_id=e.me.id, state="claimed", queued_at=now, updated_at=now, claimed_at=now))
        with pytest.raises(StillVolunteering) as refused:
            await forget(uow, Actor(e.me.id, await roles_of(uow, e.me)), e.me.id, now, e.photos)
    assert refused.value.params["posts"] == "DC-GW-2026-000002"
