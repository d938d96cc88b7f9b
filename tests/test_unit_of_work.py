"""The unit of work's transactions, on SQLite and PostgreSQL: what a commit leaves open, what leaving rolls back."""

from __future__ import annotations

from sqlalchemy import event, func, select

from core.onboarding import meet
from storage import tables as t


def count_transactions(db) -> dict[str, int]:
    counts = {"begin": 0, "commit": 0, "rollback": 0}
    for name in counts:
        event.listen(db.engine.sync_engine, name, lambda conn, name=name: counts.__setitem__(name, counts[name] + 1))
    return counts


async def persons(db) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(t.persons))).scalar_one()


async def test_a_committed_unit_of_work_leaves_no_empty_transaction_to_roll_back(db, now):
    counts = count_transactions(db)
    async with db.uow() as uow:
        await meet(uow, "telegram", "501", "501", "王阿姨", now)
        await uow.commit()
    assert counts == {"begin": 1, "commit": 1, "rollback": 0}


async def test_after_a_commit_the_next_change_is_a_transaction_of_its_own(db, now):
    async with db.uow() as uow:
        await meet(uow, "telegram", "501", "501", "王阿姨", now)
        await uow.commit()  # kept
        await meet(uow, "telegram", "502", "502", "李师傅", now)
        await uow.rollback()  # not kept
        await meet(uow, "telegram", "503", "503", "张老师", now)
        await uow.commit()  # kept
        await meet(uow, "telegram", "504", "504", "赵大爷", now)
    # left without a commit: not kept
    assert await persons(db) == 2
