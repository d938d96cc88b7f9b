"""#17, the second half, on SQLite and PostgreSQL: who sees a reporter and how much of a phone, the
audit log of staff's looks, the report/order limits and suspended reporting, and retention."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from bot.rendering.cases import CaseRenderer
from texts.cases import case_history
from core import cases_services
from core.cases import Actor, Category, ClosureReason, PhotoKind, PhotoRef
from core.clock import ManualClock
from core.disclosure import Shown, mask_phone, reporter_disclosure
from core.disclosure_services import audit_entries
from core.errors import NotAllowed
from core.limits import LimitPolicy, ReportingSuspended, ReportLimitReached
from core.limits_services import restore_reporter, suspend_reporter
from core.notifications import Notification
from core.people import Role, RoleGrant, Roles
from core.retention import RetentionPolicy
from media.photos import PhotoStore
from redgrid.settings import Settings
from scheduler.retention import retention_run
from storage import tables
from storage.audit import SqlAudit
from storage.case_tables import case_photos
from tests.factories import add_person, staff_of
from tests.test_reporting import MONDAY, POLICY, actor, do, photo, report, town  # noqa: F401  (fixture)
from texts import Translator

WANG_PHONE, LI_PHONE = "13812341234", "13955556666"


@pytest.fixture
async def phones(town):
    """王阿姨 and 李网格 have phones on record; a staff member of the other community exists."""
    async with town.db.uow() as uow:
        for key, phone in (("wang", WANG_PHONE), ("li", LI_PHONE)):
            person = await uow.people.get(town.people[key].id)
            await uow.people.update(replace(person, phone=phone))
        await add_person(uow, town, "xu", "徐主任", staff_of(town.communities["西城社区"]))
        await uow.commit()
    return town


async def audit_of(db, person_id: int | None = None):
    async with db.uow() as uow:
        return list(await audit_entries(uow, person_id=person_id))


# ---- minimum disclosure ---------------------------------------------------------------------------

def test_a_phone_is_masked_to_its_first_three_and_last_four_digits():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("") is None and mask_phone(None) is None
    assert mask_phone("12345") == "***45"


def test_one_rule_says_how_each_reader_sees_the_reporter(now):
    from core.cases import Case, CaseState

    case = Case(1, "DC-2026-000001", reporter_id=1, community_id=7, grid_id=1, building_id=1,
                category=Category.LIGHTS, description="", photos=[], state=CaseState.ASSIGNED, deadline=now,
                created_at=now, updated_at=now, handler_id=2)
    staff = Actor(3, Roles([RoleGrant(1, 3, Role.STAFF, community_id=7)]))
    other_staff = Actor(4, Roles([RoleGrant(2, 4, Role.STAFF, community_id=8)]))
    handler, neighbour, reporter = Actor(2, Roles([])), Actor(5, Roles([])), Actor(1, Roles([]))
    assert [reporter_disclosure(case, a) for a in (reporter, handler, staff, other_staff, neighbour)] == [
        Shown.FULL, Shown.FULL, Shown.MASKED, Shown.HIDDEN, Shown.HIDDEN]
    case.anonymous = True
    assert [reporter_disclosure(case, a) for a in (reporter, handler, staff, neighbour)] == [
        Shown.FULL, Shown.ANONYMOUS, Shown.MASKED, Shown.ANONYMOUS]


async def test_the_handler_sees_the_full_phone_staff_a_masked_one_and_staff_looks_are_audited(phones):
    case = await report(phones)
    li = await do(phones, cases_services.case_story, "li", case.number)
    assert (li.reporter.name, li.reporter.phone) == ("王阿姨", WANG_PHONE)
    assert await audit_of(phones.db) == []  # the handler calling the reporter is no audit matter
    chen = await do(phones, cases_services.case_story, "chen", case.number)
    assert (chen.reporter.name, chen.reporter.phone) == ("王阿姨", "138****1234")
    (entry,) = await audit_of(phones.db, phones.people["wang"].id)
    assert (entry.viewer_id, entry.what, entry.subject) == (phones.people["chen"].id, "case.reporter", case.number)


async def test_an_anonymous_report_hides_the_reporter_from_the_grid_member_not_from_staff(phones, tmp_path):
    async with phones.db.uow() as uow:
        case = await cases_services.report_problem(uow, POLICY, await actor(phones.db, phones.people["wang"]),
                                                   phones.buildings["3号楼"].id, Category.LIGHTS, [photo(1)],
                                                   "楼道灯坏了", MONDAY, anonymous=True)
        await uow.commit()
    li = await do(phones, cases_services.case_story, "li", case.number)
    assert li.reporter.shown == Shown.ANONYMOUS and li.reporter.name is None and li.reporter.phone is None
    settings = Settings(_env_file=None, data_dir=tmp_path)
    async with phones.db.uow() as uow:
        shown = await case_history(uow, case, Translator("zh"), settings.tz, MONDAY,
                                   by=await actor(phones.db, phones.people["li"]), reporter=li.reporter)
    assert "匿名居民" in shown and "王阿姨" not in shown and WANG_PHONE not in shown
    chen = await do(phones, cases_services.case_story, "chen", case.number)
    async with phones.db.uow() as uow:
        shown = await case_history(uow, case, Translator("zh"), settings.tz, MONDAY,
                                   by=await actor(phones.db, phones.people["chen"]), reporter=chen.reporter)
    assert "王阿姨（138****1234）" in shown and WANG_PHONE not in shown


async def test_notifications_name_the_reporter_as_core_allows(phones, tmp_path):
    store = PhotoStore(tmp_path)
    renderer = CaseRenderer(Settings(_env_file=None, data_dir=tmp_path), store, ManualClock(MONDAY))
    for n in (1, 2):
        _keep(store, n, MONDAY)
    open_case = await report(phones)
    async with phones.db.uow() as uow:
        anonymous = await cases_services.report_problem(
            uow, POLICY, await actor(phones.db, phones.people["wang"]), phones.buildings["3号楼"].id,
            Category.GARBAGE, [photo(2)], "", MONDAY, anonymous=True)
        await uow.commit()
    async with phones.db.uow() as uow:
        li, chen = [await uow.people.get(phones.people[k].id) for k in ("li", "chen")]
        to_li = await renderer.render(uow, Notification(li.id, "case.new_for_handler", {"case": open_case.number}),
                                      li, "zh")
        to_li_anonymous = await renderer.render(
            uow, Notification(li.id, "case.new_for_handler", {"case": anonymous.number}), li, "zh")
        to_chen = await renderer.render(uow, Notification(chen.id, "case.on_desk", {"case": anonymous.number}),
                                        chen, "zh")
    assert f"反映人：王阿姨（{WANG_PHONE}）" in to_li.text
    assert "反映人：匿名居民" in to_li_anonymous.text and "王阿姨" not in to_li_anonymous.text
    assert "反映人：王阿姨（138****1234）" in to_chen.text and WANG_PHONE not in to_chen.text


async def test_the_desk_a_desk_notification_and_the_member_list_are_audited(phones):
    case = await report(phones)
    await do(phones, cases_services.not_mine, "li", case.number)  # back on the desk: staff are told
    await do(phones, cases_services.desk, "chen")
    members = await do(phones, cases_services.desk_members, "chen", case.number)
    assert any(m.person.phone == LI_PHONE for m in members)
    wang, li, chen = (phones.people[k].id for k in ("wang", "li", "chen"))
    seen = [(e.viewer_id, e.person_id, e.what) for e in await audit_of(phones.db)]
    assert seen == [(chen, wang, "notification"), (chen, wang, "desk"), (chen, li, "members")]


async def test_the_audit_log_can_only_be_added_to_and_read(phones):
    assert {name for name in vars(SqlAudit) if not name.startswith("_")} == {"add", "entries"}
    await do(phones, cases_services.case_story, "chen", (await report(phones)).number)
    async with phones.db.uow() as uow:
        day = await audit_entries(uow, day=(MONDAY + timedelta(hours=8)).date(), tz=POLICY.calendar.tz)
        other_day = await audit_entries(uow, day=(MONDAY + timedelta(days=1)).date(), tz=POLICY.calendar.tz)
        nobody = await audit_entries(uow, person_id=phones.people["zhao"].id)
    assert len(day) == 1 and other_day == [] and nobody == []



async def test_the_list_of_party_members_waiting_for_staff_is_audited(phones):
    from core.volunteering import registration_services

    zhao = phones.people["zhao"].id
    async with phones.db.uow() as uow:
        await registration_services.ask_to_register(uow, zhao, phones.communities["东城社区"].id, "县供电公司", MONDAY)
        await uow.commit()
    (waiting,) = await do(phones, registration_services.pending_members, "chen")
    assert waiting[1].id == zhao
    (entry,) = await audit_of(phones.db, zhao)
    assert (entry.viewer_id, entry.what) == (phones.people["chen"].id, "members.pending")

# ---- abuse limits -------------------------------------------------------------------------------

LIMITED = replace(POLICY, limits=LimitPolicy(reports_per_hour=2, reports_per_day=3, orders_per_day=1))


async def limited_report(town, now, n):
    async with town.db.uow() as uow:
        case = await cases_services.report_problem(uow, LIMITED, await actor(town.db, town.people["wang"]),
                                                   town.buildings["3号楼"].id, Category.LIGHTS, [photo(n)], "",
                                                   now)
        await uow.commit()
    return case


async def test_reports_per_hour_and_per_day_are_limited_politely(town):
    await limited_report(town, MONDAY, 1)
    await limited_report(town, MONDAY + timedelta(minutes=1), 2)
    with pytest.raises(ReportLimitReached) as hour:
        await limited_report(town, MONDAY + timedelta(minutes=2), 3)
    assert hour.value.key == "limits.reports_hour" and hour.value.params["limit"] == 2
    await limited_report(town, MONDAY + timedelta(hours=1, minutes=1), 3)  # an hour later
    with pytest.raises(ReportLimitReached) as day:
        await limited_report(town, MONDAY + timedelta(hours=5), 4)
    assert day.value.key == "limits.reports_day"
    await limited_report(town, MONDAY + timedelta(days=1, minutes=2), 4)  # the next day


async def test_orders_per_day_are_limited(town):
    from core.volunteering import orders_services
    from core.volunteering.common import ServiceKind
    from core.limits import OrderLimitReached

    wang = await actor(town.db, town.people["wang"])
    dc = town.communities["东城社区"].id

    async def order(now):
        async with town.db.uow() as uow:
            made = await orders_services.order_service(uow, wang, dc, ServiceKind.TUTORING, "辅导作业", "周六", "3号楼",
                                                       now, limits=LIMITED.limits)
            await uow.commit()
        return made

    await order(MONDAY)
    with pytest.raises(OrderLimitReached):
        await order(MONDAY + timedelta(hours=3))
    await order(MONDAY + timedelta(days=1, minutes=1))


async def test_staff_suspend_and_restore_a_reporter_with_a_reason_and_the_person_is_told(phones, tmp_path):
    case = await report(phones)
    with pytest.raises(NotAllowed):  # a grid member is not staff
        await do(phones, suspend_reporter, "li", case.number, "刷屏")
    with pytest.raises(NotAllowed):  # nor is the staff of another community
        await do(phones, suspend_reporter, "xu", case.number, "刷屏")
    await do(phones, suspend_reporter, "chen", case.number, "多次上报无关照片")
    with pytest.raises(ReportingSuspended) as refused:
        await report(phones, photos=(2,))
    assert refused.value.params == {"reason": "多次上报无关照片"}
    await do(phones, restore_reporter, "chen", case.number)
    await report(phones, photos=(3,))
    async with phones.db.engine.connect() as conn:
        told = [r.kind for r in await conn.execute(select(tables.outbox).where(
            tables.outbox.c.person_id == phones.people["wang"].id).order_by(tables.outbox.c.id))]
        events = [r.kind for r in await conn.execute(select(tables.events).where(
            tables.events.c.subject_type == "person", tables.events.c.subject_id == str(phones.people["wang"].id)))]
    assert "limits.suspended_for_you" in told and "limits.restored_for_you" in told
    assert events[-2:] == ["reporting_suspended", "reporting_restored"]
    from bot.rendering.notifications import NotificationRenderer

    render = NotificationRenderer(Settings(_env_file=None, data_dir=tmp_path), clock=ManualClock(MONDAY))
    async with phones.db.uow() as uow:
        wang = await uow.people.get(phones.people["wang"].id)
        said = await render(uow, Notification(wang.id, "limits.suspended_for_you", {"reason": "多次上报无关照片"}),
                            wang, None)
    assert "您的上报功能已被社区暂停，原因：多次上报无关照片" in said.text


# ---- retention ----------------------------------------------------------------------------------

def _keep(store: PhotoStore, n: int, modified) -> str:
    """A stored photo file named like photo(n), last written at `modified`."""
    name = photo(n).sha256
    path = store.path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"jpeg")
    os.utime(path, (modified.timestamp(), modified.timestamp()))
    return name


async def test_photos_of_finished_cases_go_after_the_retention_period_but_a_shared_one_stays(phones, tmp_path):
    clock = ManualClock(MONDAY)
    store = PhotoStore(tmp_path)
    policy = RetentionPolicy(photo_days=365, dialog_days=3)
    for n in (1, 2, 3, 4, 9):
        _keep(store, n, MONDAY - timedelta(days=30))
    done = await report(phones, photos=(1, 2))  # photo 2 is also the open case's
    still_open = await report(phones, who="zhao", building="2号楼", category=Category.GARBAGE, photos=(2,))
    rejected = await report(phones, building="2号楼", category=Category.NOISE, photos=(4,))
    await do(phones, cases_services.accept_case, "li", done.number)
    await do(phones, cases_services.resolve_case, "li", done.number, PhotoRef(photo(3).sha256, PhotoKind.AFTER), "修好了")
    await do(phones, cases_services.confirm_fix, "wang", done.number, 5)
    await do(phones, cases_services.reject_report, "li", rejected.number, ClosureReason.NOT_A_PROBLEM)

    clock.set(MONDAY + timedelta(days=364))  # not yet: no case's photos go; a file nothing ever named does
    counts = await retention_run(phones.db, store, policy, clock, POLICY.calendar.tz)
    assert (counts["cases_photos_expired"], counts["photo_files"]) == (0, 1)
    assert [store.exists(photo(n).sha256) for n in (1, 2, 3, 4, 9)] == [True, True, True, True, False]

    clock.set(MONDAY + timedelta(days=366))
    _keep(store, 8, clock.now() - timedelta(hours=1))  # sent into a dialog an hour ago, not reported yet
    counts = await retention_run(phones.db, store, policy, clock, POLICY.calendar.tz)
    assert counts["cases_photos_expired"] == 2
    assert [store.exists(photo(n).sha256) for n in (1, 2, 3, 4, 8)] == [False, True, False, False, True]
    assert counts["photo_files"] == 3
    assert await retention_run(phones.db, store, policy, clock, POLICY.calendar.tz) is None  # once a day
    async with phones.db.uow() as uow:
        kept = await uow.cases.by_number(still_open.number)
        gone = await uow.cases.by_number(done.number)
        assert [p.sha256 for p in kept.photos] == [photo(2).sha256] and gone.photos == []
        history = await case_history(uow, gone, Translator("zh"), Settings(_env_file=None, data_dir=tmp_path).tz,
                                     clock.now())
    assert "照片已按保存期限删除" in history and "确认已解决并评分" in history
    async with phones.db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(case_photos))).scalar_one() == 1


async def test_old_dialogs_inbox_and_outbox_rows_are_forgotten(phones, tmp_path):
    now = MONDAY + timedelta(days=30)
    old, recent = now - timedelta(days=8), now - timedelta(days=1)
    async with phones.db.engine.begin() as conn:
        for n, at in ((1, old), (2, recent)):
            await conn.execute(insert(tables.dialog_state).values(
                bot_id=1, chat_id=n, user_id=n, thread_id=0, business_connection_id="", destiny="default",
                state="report.words", data={}, updated_at=at))
            for m, state in ((1, "handled"), (2, "failed"), (3, "received")):
                await conn.execute(insert(tables.inbox).values(update_id=n * 10 + m, bot_id=1, digest="x", raw={},
                                                               received_at=at, state=state))
            for state in ("sent", "failed", "pending"):
                await conn.execute(insert(tables.outbox).values(
                    person_id=phones.people["wang"].id, kind="case.accepted", payload={}, state=state,
                    not_before=at, created_at=at))
    counts = await retention_run(phones.db, PhotoStore(tmp_path), RetentionPolicy(), ManualClock(now),
                                 POLICY.calendar.tz)
    assert (counts["dialogs"], counts["inbox"], counts["outbox"]) == (1, 2, 2)
    async with phones.db.engine.connect() as conn:
        left = {name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for name, table in (("dialogs", tables.dialog_state), ("inbox", tables.inbox),
                                    ("outbox", tables.outbox))}
    assert left["dialogs"] == 1 and left["inbox"] == 4 and left["outbox"] >= 4  # the pending rows stay


async def test_migration_0011_builds_what_the_tables_declare(db):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage import audit_tables, case_tables  # noqa: F401  (every table in the metadata)
    from storage.tables import metadata

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), metadata))
    ours = ("audit_log", "reporting_suspensions", "anonymous", "dialog_state")
    assert [d for d in diffs if any(name in repr(d) for name in ours)] == []
