"""The minute sweep looks at a case only when one of its moments has come, not at the whole backlog.

Each case carries the next moment the clock must look at it (half time, two hours before the
deadline, the deadline, the claim deadline of an escalation, the end of the confirmation wait);
a change to the case makes the next sweep look at it again and work its moments out anew.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from core import cases_services
from storage.cases import SqlCases
from tests.test_reporting import MONDAY, POLICY, actor, do, outbox, report, town  # noqa: F401  (fixture)


def count_due(monkeypatch) -> list[int]:
    """How many cases each sweep loaded."""
    loaded: list[int] = []
    real = SqlCases.due

    async def due(self, *args, **kwargs):
        found = await real(self, *args, **kwargs)
        loaded.append(len(found))
        return found

    monkeypatch.setattr(SqlCases, "due", due)
    return loaded


async def sweep(town, at):
    async with town.db.uow() as uow:
        counts = await cases_services.sweep(uow, POLICY, at)
        await uow.commit()
    return counts


async def test_reminded_overdue_cases_are_not_loaded_again(town, monkeypatch):
    cases = [await report(town, photos=(n,)) for n in range(1, 6)]
    deadline = cases[0].deadline
    assert (await sweep(town, deadline + timedelta(minutes=1)))["overdue"] == 5
    loaded = count_due(monkeypatch)
    for minute in range(2, 5):
        assert await sweep(town, deadline + timedelta(minutes=minute)) == dict.fromkeys(
            ("half_time", "due_soon", "overdue", "claim_overdue", "auto_closed"), 0)
    assert loaded == [0, 0, 0]  # the overdue backlog stays in the database
    assert len(await outbox(town.db, "case.overdue")) == 5  # staff were told once per case


async def test_an_escalated_case_is_looked_at_again_at_its_new_moments(town, monkeypatch):
    quiet, loud = await report(town, photos=(1,)), await report(town, photos=(2,))
    deadline = loud.deadline
    await sweep(town, deadline + timedelta(minutes=1))  # both overdue, staff told
    loaded = count_due(monkeypatch)
    whistle = deadline + timedelta(minutes=10)
    async with town.db.uow() as uow:
        escalated = await cases_services.escalate_case(uow, POLICY, await actor(town.db, town.people["chen"]),
                                                       loud.number, town.people["cg"].id, whistle)
        await uow.commit()
    await sweep(town, whistle + timedelta(minutes=1))  # the change: looked at once, its moments worked out
    await sweep(town, whistle + timedelta(minutes=2))
    assert loaded == [1, 0]
    # the department does not claim it in time: staff hear of it, once
    claim_late = escalated.escalation_deadline + timedelta(minutes=1)
    assert (await sweep(town, claim_late))["claim_overdue"] == 1
    assert (await sweep(town, claim_late + timedelta(minutes=1)))["claim_overdue"] == 0
    assert [r.payload["case"] for r in await outbox(town.db, "case.claim_overdue")] == [loud.number]
    # and the new deadline's reminders fire for it as they do for a fresh case
    assert (await sweep(town, escalated.deadline - timedelta(hours=1)))["due_soon"] == 1
    assert (await sweep(town, escalated.deadline + timedelta(minutes=1)))["overdue"] == 1
    assert loaded == [1, 0, 1, 0, 1, 1]
    assert [r.payload["case"] for r in await outbox(town.db, "case.overdue")] == [quiet.number, loud.number,
                                                                                  loud.number]


async def test_a_reopened_case_is_looked_at_again_and_closes_silently_after_the_wait(town, monkeypatch):
    case = await report(town)
    n = case.number
    await sweep(town, case.deadline + timedelta(minutes=1))
    await do(town, cases_services.accept_case, "li", n, now=case.deadline + timedelta(minutes=2))
    resolved_at = case.deadline + timedelta(hours=1)
    await do(town, cases_services.resolve_case, "li", n, reporting_photo(6), "好了", now=resolved_at)
    await do(town, cases_services.reject_fix, "wang", n, "还是不亮", now=resolved_at + timedelta(hours=1))
    loaded = count_due(monkeypatch)
    await sweep(town, resolved_at + timedelta(hours=1, minutes=1))  # reopened: looked at once
    await sweep(town, resolved_at + timedelta(hours=1, minutes=2))
    assert loaded == [1, 0]
    again = resolved_at + timedelta(hours=2)
    await do(town, cases_services.resolve_case, "li", n, reporting_photo(7), "换了开关", now=again)
    assert (await sweep(town, again + timedelta(days=2)))["auto_closed"] == 0
    assert (await sweep(town, again + timedelta(days=2, minutes=1)))["auto_closed"] == 0
    assert (await sweep(town, again + POLICY.confirm_wait))["auto_closed"] == 1
    assert await sweep(town, again + POLICY.confirm_wait + timedelta(minutes=1)) is not None
    assert loaded == [1, 0, 1, 0, 1, 0]


def reporting_photo(n: int):
    from core.cases import PhotoKind
    from tests.test_reporting import photo

    return photo(n, PhotoKind.AFTER)


async def test_the_upgrade_has_every_watched_case_looked_at_once(town):
    """Migration 0007: cases stored before it are looked at by the first sweep, finished ones never."""
    from alembic import command
    from sqlalchemy import select

    from storage.case_tables import cases
    from storage.migrate import alembic_config, upgrade

    open_case, rejected = await report(town, photos=(1,)), await report(town, photos=(2,))
    await do(town, cases_services.reject_report, "li", rejected.number, "正常施工")

    def downgrade(sync_conn) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        command.downgrade(config, "0006")

    async with town.db.engine.begin() as conn:
        await conn.run_sync(downgrade)
    await upgrade(town.db.engine)
    async with town.db.engine.connect() as conn:
        rows = dict((await conn.execute(select(cases.c.number, cases.c.next_check_at))).all())
    assert rows == {open_case.number: MONDAY, rejected.number: None}
    async with town.db.uow() as uow:
        assert [c.number for c, _ in await uow.cases.due(MONDAY + timedelta(minutes=1))] == [open_case.number]


async def test_an_unclaimed_escalation_reminds_the_department_once(town):
    case = await report(town)
    whistle = case.deadline - timedelta(days=1)
    async with town.db.uow() as uow:
        escalated = await cases_services.escalate_case(uow, POLICY, await actor(town.db, town.people["chen"]),
                                                  case.number, town.people["cg"].id, whistle)
        await uow.commit()
    claim_late = escalated.escalation_deadline + timedelta(minutes=1)
    await sweep(town, claim_late)
    await sweep(town, claim_late + timedelta(minutes=1))
    await sweep(town, claim_late + timedelta(hours=3))
    # the department that has not claimed it is asked to, once; staff hear of it as before
    reminders = await outbox(town.db, "case.claim_overdue_for_department")
    assert [(r.person_id, r.payload["case"]) for r in reminders] == [(town.people["cg"].id, case.number)]
    assert [r.person_id for r in await outbox(town.db, "case.claim_overdue")] == [town.people["chen"].id]


async def test_the_reporter_reopens_an_auto_closed_case_and_its_handler_reworks_it(town):
    from core.cases import CaseState, PhotoKind, ReopenTooLate
    from tests.test_reporting import photo

    reopen = partial(cases_services.reopen_after_auto_close, policy=POLICY)

    reopen = partial(cases_services.reopen_after_auto_close, policy=POLICY)
    case = await report(town)
    await do(town, cases_services.accept_case, "li", case.number)
    await do(town, cases_services.resolve_case, "li", case.number, photo(6, PhotoKind.AFTER), "好了")
    closed_at = MONDAY + POLICY.confirm_wait + timedelta(minutes=1)
    assert (await sweep(town, closed_at))["auto_closed"] == 1
    with pytest.raises(ReopenTooLate):
        await do(town, reopen, "wang", case.number,
                 now=closed_at + POLICY.reopen_within + timedelta(minutes=1))
    reopened = await do(town, reopen, "wang", case.number,
                        now=closed_at + timedelta(days=2))
    assert reopened.state == CaseState.REOPENED and reopened.handler_id == town.people["li"].id
    assert [r.person_id for r in await outbox(town.db, "case.reopened")] == [town.people["li"].id]
    # the sweep watches it again, and it does not close silently while it is being reworked
    assert (await sweep(town, closed_at + timedelta(days=6)))["auto_closed"] == 0
