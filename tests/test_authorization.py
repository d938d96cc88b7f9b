"""Who may do what, through core alone, on SQLite and PostgreSQL: the role × action matrix.

One world is built per database: a case in each state an action needs, an order, a pending
"双报到" request, a post a party member holds. Every cell then runs the real core command or query
in a unit of work that is rolled back afterwards, so each cell meets the same world. An allowed
cell must go through; a refused one must raise a DomainError and, inside its own transaction,
leave every table exactly as it was (core refuses before it writes anything).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core import cases as rules
from core import notices, onboarding, cases_services
from core import theme_day_services
from core.volunteering import attendance_services, common_services, orders_services, posts_services, registration_services
from core.cases import Actor, Category, PhotoKind, PhotoRef
from core.errors import DomainError
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from core.cases_services import ReportPolicy
from core.theme_day import ThemeActivity
from core.volunteering.common import ServiceKind
from core.volunteering.posts import Standing
from core.workdays import CHINA_TZ, WorkCalendar
from storage import case_tables, tables, volunteer_tables  # noqa: F401  (every table in the metadata)
from tests.factories import add_person, seed_world, staff_of

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)
SATURDAY_9 = datetime(2026, 11, 28, 9, 0, tzinfo=CHINA_TZ)
POLICY = ReportPolicy(calendar=WorkCalendar())
VPOLICY = common_services.VolunteerPolicy(calendar=WorkCalendar())

ROLES = ("resident", "grid_here", "grid_other", "staff_here", "staff_other", "department", "party",
         "suspended", "admin", "stranger")
DESK = {"staff_here", "admin"}            # the community's desk: its staff, and administrators
HANDLER = {"grid_here"}                   # the grid member the cases are routed to
HANDLER_OR_DESK = HANDLER | DESK

# action → who may (everyone else is refused)
EXPECTED: dict[str, set[str]] = {
    "case.accept": HANDLER,
    "case.during_photo": HANDLER,
    "case.resolve": HANDLER,
    "case.confirm": {"resident"},
    "case.reject_fix": {"resident"},
    "case.feedback": {"resident"},         # the resident joined that case as "same problem"
    "case.forward": HANDLER_OR_DESK,
    "case.not_mine": HANDLER,
    "case.escalate": HANDLER_OR_DESK,
    "case.claim": {"department"},
    "case.reject": HANDLER_OR_DESK,
    "case.merge": HANDLER_OR_DESK,
    "case.assign": DESK,
    "case.history": {"resident"} | HANDLER_OR_DESK,
    "case.desk": DESK | {"staff_other"},   # every desk keeper sees their own community's desk
    "case.handover_targets": HANDLER_OR_DESK,
    "case.answer_outcome": {"resident"},
    "post.create": DESK,
    "post.create_ask": DESK,
    "order.dispatch": DESK,
    "order.to_decide": DESK,
    "post.roster": DESK,
    "party.decide": DESK,
    "party.to_decide": DESK,
    "party.pending": DESK | {"staff_other"},
    "theme.template": DESK,
    "theme.desk": DESK,
    "theme.to_retire": DESK,
    "post.claim": {"party"},               # the suspended member may not
    "post.check_in": {"party"},            # the member holding the place
    "notice": {"staff_here"},              # a staff grant is needed: an admin alone sends none
    "invite": DESK,
    "invite.communities": DESK | {"staff_other"},
}


def photo(n: int, kind: PhotoKind) -> PhotoRef:
    return PhotoRef(f"{n:064x}", kind, 1600, 1200)


async def _report(uow, w, who: str, building: str, category: Category, n: int):
    return await cases_services.report_problem(uow, POLICY, w.by[who], w.buildings[building].id, category,
                                               [photo(n, PhotoKind.BEFORE)], "楼道灯坏了", MONDAY)


async def _build(db):
    """The world every cell starts from."""
    async with db.uow() as uow:
        w = await seed_world(uow)
        dc, xc = w.communities["东城社区"], w.communities["西城社区"]
        member = RoleGrant(None, 0, Role.PARTY_MEMBER, community_id=dc.id, work_unit="县财政局")
        await add_person(uow, w, "resident", "王阿姨", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                                 building_id=w.buildings["3号楼"].id))
        await add_person(uow, w, "neighbour", "赵大爷", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                                  building_id=w.buildings["2号楼"].id))
        await add_person(uow, w, "grid_here", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER,
                                                                 grid_id=w.grids["粮食局第一网格"].id))
        await add_person(uow, w, "grid_other", "胡网格", RoleGrant(None, 0, Role.GRID_MEMBER,
                                                                  grid_id=w.grids["东城花园网格"].id))
        await add_person(uow, w, "staff_here", "陈书记", staff_of(dc))
        await add_person(uow, w, "staff_other", "西城书记", staff_of(xc))
        await add_person(uow, w, "department", "城管老刘", RoleGrant(None, 0, Role.DEPARTMENT))
        await add_person(uow, w, "party", "党员甲", member)
        await add_person(uow, w, "suspended", "党员乙", RoleGrant(None, 0, Role.PARTY_MEMBER, community_id=dc.id,
                                                                 work_unit="县财政局"))
        await add_person(uow, w, "admin", "管理员", RoleGrant(None, 0, Role.ADMIN))
        await add_person(uow, w, "stranger", "路人")
        await add_person(uow, w, "applicant", "申请人")
        w.by = {key: Actor(p.id, await roles_of(uow, p)) for key, p in w.people.items()}
        w.dc, w.xc = dc, xc
        await uow.volunteering.save_standing(Standing(w.people["suspended"].id, dc.id, no_shows=2, suspended=True,
                                                      suspended_at=MONDAY))
        await uow.commit()

    async with db.uow() as uow:
        by = w.by
        assigned = await _report(uow, w, "resident", "3号楼", Category.LIGHTS, 1)
        other = await _report(uow, w, "neighbour", "2号楼", Category.GARBAGE, 2)
        progress = await _report(uow, w, "resident", "3号楼", Category.GREENERY, 3)
        await cases_services.accept_case(uow, by["grid_here"], progress.number, MONDAY)
        resolved = await _report(uow, w, "resident", "3号楼", Category.FLYERS, 4)
        joined = await _report(uow, w, "neighbour", "2号楼", Category.NOISE, 5)
        case = await cases_services.case_for(uow, joined.number)
        rules.join_me_too(case, w.people["resident"].id, MONDAY)
        await uow.cases.save(case)
        for case in (resolved, joined):
            await cases_services.accept_case(uow, by["grid_here"], case.number, MONDAY)
            await cases_services.resolve_case(uow, by["grid_here"], case.number, photo(10 + case.id, PhotoKind.AFTER),
                                              "修好了", MONDAY)
        escalated = await _report(uow, w, "resident", "3号楼", Category.PARKING, 6)
        await cases_services.escalate_case(uow, POLICY, by["staff_here"], escalated.number,
                                           w.people["department"].id, MONDAY)
        w.case = {"assigned": assigned.number, "other": other.number, "progress": progress.number,
                  "resolved": resolved.number, "joined": joined.number, "escalated": escalated.number}

        order = await orders_services.order_service(uow, by["resident"], dc.id, ServiceKind.CARRYING, "十袋米搬上楼", "周六上午",
                                                    "3号楼", MONDAY)
        w.order = order.number
        await registration_services.ask_to_register(uow, w.people["applicant"].id, dc.id, "县财政局", MONDAY)
        post = await posts_services.create_post(uow, VPOLICY, by["staff_here"], dc.id, MONDAY, title="帮老人搬米",
                                                starts_at=SATURDAY_9, ends_at=SATURDAY_9 + timedelta(hours=2),
                                                place="社区党群服务中心", capacity=3, points_per_person=5)
        await posts_services.claim_post(uow, VPOLICY, by["party"], post.number, MONDAY)
        w.post = post.number
        spare = await posts_services.create_post(uow, VPOLICY, by["staff_here"], dc.id, MONDAY, title="清扫楼道",
                                                 starts_at=SATURDAY_9 + timedelta(days=1),
                                                 ends_at=SATURDAY_9 + timedelta(days=1, hours=2),
                                                 place="3号楼", capacity=3, points_per_person=5)
        w.spare_post = spare.number
        template = await theme_day_services.define_template(uow, by["staff_here"], dc.id, MONDAY, title="政策宣讲",
                                                            activity=ThemeActivity.POLICY_TALK, place="党群服务中心", capacity=10,
                                                            points_per_person=5, policy=VPOLICY)
        w.template = template.id
        await uow.commit()
    return w


def _actions(w) -> dict:
    """Each action as `(uow, by) -> awaitable`, on the world's objects."""
    c, dc = w.case, w.dc.id
    applicant = w.people["applicant"].id

    def post_fields(days: int = 2) -> dict:
        starts = SATURDAY_9 + timedelta(days=days)
        return dict(title="义务清扫", starts_at=starts, ends_at=starts + timedelta(hours=2), place="东城花园",
                    capacity=2, points_per_person=5)

    return {
        "case.accept": lambda u, by: cases_services.accept_case(u, by, c["assigned"], MONDAY),
        "case.during_photo": lambda u, by: cases_services.add_during_photo(u, by, c["progress"],
                                                                           photo(90, PhotoKind.DURING), MONDAY),
        "case.resolve": lambda u, by: cases_services.resolve_case(u, by, c["progress"], photo(91, PhotoKind.AFTER),
                                                                  "换了灯泡", MONDAY),
        "case.confirm": lambda u, by: cases_services.confirm_fix(u, by, c["resolved"], 5, MONDAY, policy=POLICY),
        "case.reject_fix": lambda u, by: cases_services.reject_fix(u, by, c["resolved"], "还是坏的", MONDAY),
        "case.feedback": lambda u, by: cases_services.give_feedback(u, by, c["joined"], False, MONDAY, comment="没修好"),
        "case.forward": lambda u, by: cases_services.forward_case(u, by, c["assigned"], rules.HandlerKind.DEPARTMENT,
                                                                  w.people["department"].id, MONDAY),
        "case.not_mine": lambda u, by: cases_services.not_mine(u, by, c["assigned"], MONDAY),
        "case.escalate": lambda u, by: cases_services.escalate_case(u, POLICY, by, c["assigned"],
                                                                    w.people["department"].id, MONDAY),
        "case.claim": lambda u, by: cases_services.claim_escalation(u, by, c["escalated"], MONDAY),
        "case.reject": lambda u, by: cases_services.reject_report(u, by, c["assigned"], "不是问题", MONDAY),
        "case.merge": lambda u, by: cases_services.merge_cases(u, by, c["assigned"], c["other"], MONDAY),
        "case.assign": lambda u, by: cases_services.reassign(u, by, c["assigned"], w.people["grid_other"].id, MONDAY),
        "case.history": lambda u, by: cases_services.case_story(u, by, c["assigned"], MONDAY),
        "case.desk": lambda u, by: cases_services.desk(u, by, MONDAY),
        "case.handover_targets": lambda u, by: cases_services.handover_targets(u, by, c["assigned"], "escalate"),
        "case.answer_outcome": lambda u, by: cases_services.answer_outcome(u, by, c["resolved"], True),
        "post.create": lambda u, by: posts_services.create_post(u, VPOLICY, by, dc, MONDAY, **post_fields()),
        "post.create_ask": lambda u, by: posts_services.post_communities(u, by, dc),
        "order.dispatch": lambda u, by: orders_services.dispatch_order(u, VPOLICY, by, w.order, MONDAY, **post_fields(3)),
        "order.to_decide": lambda u, by: orders_services.order_to_decide(u, by, w.order),
        "post.roster": lambda u, by: posts_services.roster(u, by, w.post),
        "party.decide": lambda u, by: registration_services.approve_registration(u, by, applicant, dc, MONDAY),
        "party.to_decide": lambda u, by: registration_services.registration_to_decide(u, by, applicant, dc),
        "party.pending": lambda u, by: registration_services.pending_members(u, by, MONDAY),
        "theme.template": lambda u, by: theme_day_services.define_template(u, by, dc, MONDAY, title="义务清扫",
                                                                           activity=ThemeActivity.CLEAN_UP, place="东城花园",
                                                                           capacity=5, points_per_person=5, policy=VPOLICY),
        "theme.desk": lambda u, by: theme_day_services.theme_desk(u, by, dc),
        "theme.to_retire": lambda u, by: theme_day_services.template_to_retire(u, by, w.template),
        "post.claim": lambda u, by: posts_services.claim_post(u, VPOLICY, by, w.spare_post, MONDAY),
        "post.check_in": lambda u, by: attendance_services.check_in(u, by, w.post, photo(92, PhotoKind.DURING), SATURDAY_9),
        "notice": lambda u, by: notices.start_notice(u, by, dc, "明天上午停水", MONDAY),
        "invite": lambda u, by: onboarding.choose_invite(u, by, dc, Role.PARTY_MEMBER.value, MONDAY, ttl_hours=72),
        "invite.communities": lambda u, by: onboarding.invite_communities(u, by),
    }


async def _snapshot(conn) -> dict[str, list]:
    """Every row of every table, in a comparable form."""
    seen = {}
    for table in tables.metadata.sorted_tables:
        rows = (await conn.execute(select(table))).all()
        seen[table.name] = sorted(repr(tuple(r)) for r in rows)
    return seen


async def test_every_role_may_do_exactly_what_the_rules_say_and_a_refusal_changes_nothing(db):
    w = await _build(db)
    actions = _actions(w)
    assert set(actions) == set(EXPECTED)
    async with db.uow() as uow:
        world = await _snapshot(uow.conn)
    allowed: dict[str, set[str]] = {a: set() for a in actions}
    changed: list[tuple[str, str]] = []
    for action, run in actions.items():
        for role in ROLES:
            async with db.uow() as uow:
                try:
                    await run(uow, w.by[role])
                except DomainError:
                    if await _snapshot(uow.conn) != world:
                        changed.append((action, role))
                else:
                    allowed[action].add(role)
                await uow.rollback()
    wrong = {a: {"allowed": sorted(allowed[a]), "expected": sorted(EXPECTED[a])}
             for a in actions if allowed[a] != EXPECTED[a]}
    assert wrong == {}
    assert sorted({a for a, _ in changed}) == []


@pytest.mark.parametrize("role", ["staff_here", "admin"])
async def test_a_case_story_offers_the_desk_its_buttons_and_records_who_looked(db, role):
    w = await _build(db)
    async with db.uow() as uow:
        story = await cases_services.case_story(uow, w.by[role], w.case["assigned"], MONDAY)
        assert not story.as_handler
        assert [p.id for p in story.desk_members or []] == [w.people["grid_here"].id]
        events = (await uow.conn.execute(select(tables.events).where(tables.events.c.kind == "viewed"))).all()
        assert [e.actor_id for e in events] == [w.people[role].id]
    async with db.uow() as uow:
        story = await cases_services.case_story(uow, w.by["grid_here"], w.case["assigned"], MONDAY)
        assert story.as_handler and story.desk_members is None
