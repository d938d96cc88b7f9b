"""Where unfinished dialogs wait: the bot's database by default (storage/dialogs.py), Redis with REDIS_URL.

The database storage keeps aiogram's storage contract on SQLite and PostgreSQL, keeps every key
apart (bot, chat, user, thread, business connection, destiny), and, joined to a unit of work,
commits or rolls back with it. The whole report dialog across a restart, on both storages, is in
tests/e2e/test_dialog_restart_e2e.py.
"""

from __future__ import annotations

import uuid

import pytest

from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy import func, select

from redgrid.bootstrap import dialog_storage
from redgrid.settings import Settings
from storage import tables as t
from storage.dialogs import SqlDialogStorage
from tests.redis_kit import REDIS_URL, redis_prefix

KEY = StorageKey(bot_id=4242, chat_id=-100123456789012, user_id=9001)


class Report(StatesGroup):
    category = State()


def test_the_database_keeps_dialogs_without_redis_url(tmp_path):
    from storage.engine import make_engine
    from storage.uow import Database

    db = Database(make_engine(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3"))
    assert isinstance(dialog_storage(Settings(_env_file=None, redis_url=""), db), SqlDialogStorage)


async def test_state_and_data_are_kept_and_replaced(db):
    storage = SqlDialogStorage(db.engine)
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}
    await storage.set_state(KEY, Report.category)
    assert await storage.get_state(KEY) == "Report:category"
    await storage.set_data(KEY, {"photos": ["ab12", "cd34"], "building": 3, "words": "楼道灯坏了"})
    assert await storage.get_state(KEY) == "Report:category"  # setting the data leaves the state
    assert await storage.get_data(KEY) == {"photos": ["ab12", "cd34"], "building": 3, "words": "楼道灯坏了"}
    await storage.set_state(KEY, "report.place")
    assert await storage.get_data(KEY) == {"photos": ["ab12", "cd34"], "building": 3, "words": "楼道灯坏了"}
    await storage.set_data(KEY, {"category": "lights"})  # replaced, not merged
    assert await storage.get_data(KEY) == {"category": "lights"}
    assert await storage.get_value(KEY, "category") == "lights"
    assert await storage.update_data(KEY, {"building": 4}) == {"category": "lights", "building": 4}
    assert await storage.get_data(KEY) == {"category": "lights", "building": 4}
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}


async def test_what_a_caller_does_to_the_returned_data_stays_out_of_the_storage(db):
    storage = SqlDialogStorage(db.engine)
    await storage.set_data(KEY, {"photos": ["ab12"]})
    (await storage.get_data(KEY))["photos"].append("zz99")
    assert await storage.get_data(KEY) == {"photos": ["ab12"]}


async def test_every_part_of_the_key_keeps_dialogs_apart(db):
    storage = SqlDialogStorage(db.engine)
    others = [StorageKey(bot_id=4243, chat_id=KEY.chat_id, user_id=KEY.user_id),  # another bot
              StorageKey(bot_id=KEY.bot_id, chat_id=KEY.chat_id + 1, user_id=KEY.user_id),  # another chat
              StorageKey(bot_id=KEY.bot_id, chat_id=KEY.chat_id, user_id=9002),  # another person in the chat
              StorageKey(bot_id=KEY.bot_id, chat_id=KEY.chat_id, user_id=KEY.user_id, thread_id=7),
              StorageKey(bot_id=KEY.bot_id, chat_id=KEY.chat_id, user_id=KEY.user_id, business_connection_id="bc1"),
              StorageKey(bot_id=KEY.bot_id, chat_id=KEY.chat_id, user_id=KEY.user_id, destiny="scenes_history")]
    await storage.set_state(KEY, "report.photos")
    await storage.set_data(KEY, {"who": "default"})
    for n, other in enumerate(others):
        await storage.set_state(other, f"state{n}")
        await storage.set_data(other, {"who": n})
    assert await storage.get_state(KEY) == "report.photos" and await storage.get_data(KEY) == {"who": "default"}
    for n, other in enumerate(others):
        assert (await storage.get_state(other), await storage.get_data(other)) == (f"state{n}", {"who": n})
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.dialog_state))).scalar() == 1 + len(others)


async def test_two_storages_on_one_database_read_each_others_dialogs_and_close_leaves_the_engine(db):
    first, second = SqlDialogStorage(db.engine), SqlDialogStorage(db.engine)
    await first.set_state(KEY, "report.confirm")
    await first.set_data(KEY, {"photos": ["ab12"]})
    await first.close()
    assert await second.get_state(KEY) == "report.confirm"
    assert await second.get_data(KEY) == {"photos": ["ab12"]}
    await second.close()
    assert await SqlDialogStorage(db.engine).get_state(KEY) == "report.confirm"  # the engine still works


async def test_joined_to_a_unit_of_work_a_dialog_change_commits_or_rolls_back_with_it(db):
    storage = SqlDialogStorage(db.engine)
    await storage.set_state(KEY, "report.confirm")
    async with db.uow() as uow:
        with storage.joined(uow.conn):
            await storage.set_state(KEY, None)
            await storage.set_data(KEY, {"done": True})
            assert await storage.get_state(KEY) is None  # its own transaction sees its change
        await uow.rollback()  # a refusal, a crash before the commit: the dialog is where it was
        with storage.joined(uow.conn):
            assert await storage.get_state(KEY) == "report.confirm"
            await storage.set_state(KEY, "report.words")
        assert await storage.get_state(KEY) == "report.confirm"  # not committed yet: others see the old one
        await uow.commit()
    assert await storage.get_state(KEY) == "report.words"
    assert await storage.get_data(KEY) == {}


async def test_joined_a_key_is_read_once_and_what_is_handed_out_is_a_copy(db):
    """A scene step asks for the same state and data several times in one update: one read each."""
    from sqlalchemy import event

    storage = SqlDialogStorage(db.engine)
    await storage.set_state(KEY, "report.photos")
    await storage.set_data(KEY, {"photos": [{"sha256": "ab12"}]})
    other = StorageKey(bot_id=4242, chat_id=-100123456789012, user_id=9001, destiny="scenes_history")
    statements: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *args: statements.append(sql.split()[0].upper()))
    async with db.uow() as uow:
        with storage.joined(uow.conn):
            for _ in range(3):
                assert await storage.get_state(KEY) == "report.photos"
                data = await storage.get_data(KEY)
                assert data == {"photos": [{"sha256": "ab12"}]}
            data["photos"].append({"sha256": "cd34"})  # a step changing what it read, not (yet) written
            assert await storage.get_data(KEY) == {"photos": [{"sha256": "ab12"}]}
            await storage.update_data(KEY, {"category": "lights"})
            await storage.set_state(KEY, "report.category")
            assert await storage.get_state(KEY) == "report.category"
            assert await storage.get_data(KEY) == {"photos": [{"sha256": "ab12"}], "category": "lights"}
            assert await storage.get_data(other) == {}  # another key: its own read
            await storage.set_state(other, "report.place")  # a new row: its data is {}
            assert (await storage.get_state(other), await storage.get_data(other)) == ("report.place", {})
        await uow.commit()
    assert statements == ["SELECT", "SELECT", "INSERT", "INSERT", "SELECT", "INSERT"]
    assert await storage.get_state(KEY) == "report.category"
    assert await storage.get_data(KEY) == {"photos": [{"sha256": "ab12"}], "category": "lights"}
    assert (await storage.get_state(other), await storage.get_data(other)) == ("report.place", {})


async def test_a_dialog_write_inside_a_unit_of_work_that_has_written_does_not_wait_for_it(db):
    """On SQLite the unit of work holds the only write lock until it commits; a dialog write on a
    connection of its own would wait 30 s for it and then fail. Joined, it runs at once."""
    import asyncio

    storage = SqlDialogStorage(db.engine)
    async with db.uow() as uow:
        await uow.conn.execute(t.districts.insert().values(name="丰台区"))
        with storage.joined(uow.conn):
            await asyncio.wait_for(storage.update_data(KEY, {"building": 3}), 2)
        await uow.commit()
    assert await storage.get_data(KEY) == {"building": 3}


def test_redis_keys_name_the_destiny_that_scenes_use():
    storage = dialog_storage(Settings(_env_file=None, redis_url=REDIS_URL), None, redis_prefix="p")
    assert isinstance(storage.inner, RedisStorage)  # written after each update's commit (CommitBound)
    history = StorageKey(bot_id=1, chat_id=2, user_id=3, destiny="scenes_history")
    assert storage.inner.key_builder.build(history, "data") == "p:1:2:3:scenes_history:data"


async def test_two_processes_share_dialog_state_through_redis():
    async with redis_prefix() as prefix:
        settings = Settings(_env_file=None, redis_url=REDIS_URL)
        first, second = dialog_storage(settings, None, redis_prefix=prefix), dialog_storage(settings, None,
                                                                                             redis_prefix=prefix)
        key = StorageKey(bot_id=4242, chat_id=int(uuid.uuid4().int % 10**9), user_id=1)
        try:
            await first.set_state(key, "ReportScene:category")
            await first.set_data(key, {"photos": ["abc"], "building": 3})
            assert await second.get_state(key) == "ReportScene:category"
            assert await second.get_data(key) == {"photos": ["abc"], "building": 3}
            await second.set_state(key, None)
            assert await first.get_state(key) is None
        finally:
            await first.close()
            await second.close()


async def test_an_update_writes_its_dialog_once_per_key_at_its_end_or_not_at_all(db):
    """`written_at_end` (each update's handler, redgrid/bootstrap.py): a scene transition's several
    sets of the state and data are one upsert per key when the handler is done; reads in between see
    them; a handler that fails writes nothing."""
    from sqlalchemy import event

    storage = SqlDialogStorage(db.engine)
    await storage.set_state(KEY, "report.photos")
    await storage.set_data(KEY, {"photos": ["ab12"]})
    history = StorageKey(bot_id=4242, chat_id=-100123456789012, user_id=9001, destiny="scenes_history")
    statements: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *args: statements.append(sql.split()[0].upper()))
    async with db.uow() as uow:
        async with storage.written_at_end(uow.conn):
            await storage.set_state(KEY, None)  # leaving one scene …
            await storage.set_data(KEY, {})
            await storage.set_data(history, {"history": [{"state": "report.photos", "data": {}}]})
            await storage.set_state(KEY, "report.category")  # … entering the next
            await storage.update_data(KEY, {"photos": ["ab12"], "category": None})
            assert await storage.get_state(KEY) == "report.category"
            assert await storage.get_data(KEY) == {"photos": ["ab12"], "category": None}
            assert statements == []  # nothing read (all of it set in this block) and nothing written yet
        assert statements == ["INSERT", "INSERT"]  # one upsert per key
        await uow.commit()
    assert (await storage.get_state(KEY), await storage.get_data(KEY)) == (
        "report.category", {"photos": ["ab12"], "category": None})
    assert (await storage.get_state(history), await storage.get_data(history)) == (
        None, {"history": [{"state": "report.photos", "data": {}}]})

    async with db.uow() as uow:
        with pytest.raises(RuntimeError):
            async with storage.written_at_end(uow.conn):
                await storage.set_state(KEY, "report.confirm")
                raise RuntimeError("the handler failed")
        await uow.commit()
    assert await storage.get_state(KEY) == "report.category"


async def test_a_dialog_cleared_in_an_update_leaves_no_row_even_after_its_rows_were_erased(db):
    """/forget inside a dialog: the handler clears the dialog and the erase deletes the person's rows in
    the same transaction; the cleared dialog must not be written back as an empty row at the end."""
    from sqlalchemy import delete, func, select

    from storage.tables import dialog_state

    storage = SqlDialogStorage(db.engine)
    await storage.set_state(KEY, "order.words")
    await storage.set_data(KEY, {"words": "楼道灯"})

    async def rows() -> int:
        async with db.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(dialog_state))).scalar_one()

    assert await rows() == 1
    async with db.uow() as uow:
        async with storage.written_at_end(uow.conn):
            await storage.set_state(KEY, None)  # FSMContext.clear()
            await storage.set_data(KEY, {})
            await uow.conn.execute(delete(dialog_state))  # what /forget's erase does meanwhile
        await uow.commit()
    assert await rows() == 0
    assert (await storage.get_state(KEY), await storage.get_data(KEY)) == (None, {})
