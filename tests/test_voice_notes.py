"""Voice notes ("语音留言", issue #20 part 4) through the real Dispatcher: a report's words spoken, kept
with the case, played to the grid member through the outbox (sendVoice), listed in /my; too long is
refused politely and nothing of the dialog is lost; a rejection's reason spoken; /mydata lists them,
/forget deletes them (files too); retention takes them with the case's photos."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey
from PIL import Image
from sqlalchemy import select

from bot.handlers.cases import act
from bot.rendering.notifications import NotificationRenderer
from bot.scenes.report import Step
from core import cases_services
from core.cases import Actor, Category, PhotoKind
from core.clock import ManualClock
from core.people import Identity, Role, RoleGrant, Roles
from core.retention import RetentionPolicy
from core.retention_services import expire_case_photos
from media.photos import PhotoStore
from media.voice import VoiceStore
from redgrid.bootstrap import build_dispatcher, report_policy
from redgrid.settings import Settings
from scheduler.delivery import DeliveryWorker
from storage import case_tables, tables as t, volunteer_tables  # noqa: F401  (every table in the metadata)
from tests.botkit import ChatHarness
from tests.factories import add_person, seed_world

SAMPLE = (Path(__file__).resolve().parent.parent / "samples" / "voice_sample.ogg").read_bytes()


def _jpeg(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
async def chat(db, now, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
    clock = ManualClock(now)
    settings = Settings(_env_file=None, bot_token="4242:TEST", page_size=8, data_dir=tmp_path / "data")
    harness = ChatHarness(build_dispatcher(db, settings, clock))
    harness.world, harness.db, harness.clock, harness.settings = world, db, clock, settings
    harness.photos, harness.voices = PhotoStore(settings.data_dir), VoiceStore(settings.data_dir)
    yield harness
    await harness.bot.session.close()


async def _person(chat, name: str, grant: RoleGrant):
    tester = chat.person(name)
    async with chat.db.uow() as uow:
        person = await add_person(uow, chat.world, name, name, grant)
        await uow.people.add_identity(Identity(None, person.id, "telegram", str(tester.id), str(tester.id)))
        await uow.commit()
    tester.person = person
    return tester


async def _town(chat):
    w = chat.world
    wang = await _person(chat, "王阿姨", RoleGrant(None, 0, Role.RESIDENT, community_id=w.communities["东城社区"].id,
                                                  building_id=w.buildings["3号楼"].id))
    li = await _person(chat, "李网格", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=w.grids["粮食局第一网格"].id,
                                                community_id=w.communities["东城社区"].id))
    return wang, li


async def _at_words_step(chat, wang) -> None:
    """The report dialog up to "a few words": a photo (put in the dialog as the photo step would: botkit
    sends photos without bytes), the category, her building."""
    await wang.sends_text("/report")
    await wang.sees("请拍照")
    photo = await chat.photos.save(_jpeg("orange"))
    key = StorageKey(bot_id=chat.bot.id, chat_id=wang.id, user_id=wang.id)
    await chat.dp.fsm.storage.set_data(key, {"photos": [{"sha256": photo.sha256, "width": photo.width,
                                                         "height": photo.height, "dhash": photo.dhash}]})
    await wang.sends_voice(SAMPLE, 5)  # a voice note at the photo step: a photo is asked for, kindly
    await wang.sees("这里需要一张照片")
    await wang.presses_data(Step(action="next").pack())
    await wang.presses("💡 路灯/楼道灯")
    await wang.presses("🏠 我的楼栋（粮食局小区 3号楼）")
    await wang.sees("说一段语音")


async def _deliver(chat) -> None:
    worker = DeliveryWorker(chat.db, chat.bot, NotificationRenderer(chat.settings, chat.photos, chat.clock),
                            per_chat_rate=None, global_rate=1000.0)  # rows are due by the wall clock
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.close()


async def _notes(db) -> list:
    async with db.engine.connect() as conn:
        return list(await conn.execute(select(case_tables.voice_notes).order_by(case_tables.voice_notes.c.id)))


async def test_a_spoken_report_reaches_the_grid_member_as_a_voice_and_is_listed_in_my(chat):
    wang, li = await _town(chat)
    await _at_words_step(chat, wang)

    # over three minutes: refused politely, the dialog stays at the words step with all answered so far
    await wang.sends_voice(SAMPLE, 200)
    assert "3 分钟以内" in (await wang.sees("语音太长了")).text
    assert await _notes(chat.db) == []
    await wang.sends_voice(SAMPLE, 42)
    summary = await wang.sees("请确认")
    assert "🎤 0:42" in summary.text and "3号楼" in summary.text and "路灯" in summary.text
    await wang.presses("✅ 确认提交")
    await wang.sees("已提交")

    (note,) = await _notes(chat.db)
    async with chat.db.uow() as uow:
        (case,) = await uow.cases.of_reporter(wang.person.id)
    assert (note.case_id, note.person_id, note.duration, note.mime, note.purpose) == (
        case.id, wang.person.id, 42, "audio/ogg", "report")
    assert chat.voices.path(note.file).read_bytes() == SAMPLE  # kept as sent

    await _deliver(chat)
    told = [m for m in li.messages if m.photo and case.number in m.text]
    (voice,) = [m for m in li.messages if m.voice is not None]
    assert told and told[0].message_id < voice.message_id  # the report first, then its voice
    assert voice.voice == SAMPLE and f"🎤 {case.number}" in voice.text and "0:42" in voice.text

    await wang.sends_text("/my")
    listed = await wang.sees("您反映的问题")
    assert any(case.number in b and "🎤 0:42" in b for b in listed.buttons)


async def test_typed_words_still_work_and_a_voice_too_big_is_refused(chat, tmp_path):
    wang, _ = await _town(chat)
    await _at_words_step(chat, wang)
    await wang.sends_voice(b"OggS" + b"\0" * (1024 * 1024 + 1), 60)  # over VOICE_MAX_BYTES (1 MB)
    await wang.sees("这段语音太大了")
    await wang.sends_text("楼道灯不亮")
    summary = await wang.sees("请确认")
    assert "楼道灯不亮" in summary.text and "🎤" not in summary.text
    await wang.presses("✅ 确认提交")
    await wang.sees("已提交")
    assert await _notes(chat.db) == []


async def _resolved_case(chat, wang, li, now):
    async with chat.db.uow() as uow:
        case = await cases_services.report_problem(
            uow, report_policy(chat.settings), Actor(wang.person.id, Roles(list(await uow.people.grants(wang.person.id)))),
            chat.world.buildings["3号楼"].id, Category.LIGHTS,
            [(await chat.photos.save(_jpeg("orange"))).ref(PhotoKind.BEFORE)], "楼道灯坏了", now)
        by = Actor(li.person.id, Roles(list(await uow.people.grants(li.person.id))))
        await cases_services.accept_case(uow, by, case.number, now)
        await cases_services.resolve_case(uow, by, case.number,
                                          (await chat.photos.save(_jpeg("green"))).ref(PhotoKind.AFTER), "换了灯泡", now)
        await uow.commit()
    return case


async def test_a_rejection_reason_said_in_a_voice_goes_back_with_the_case(chat, now):
    wang, li = await _town(chat)
    case = await _resolved_case(chat, wang, li, now)
    await wang.sends_text("/help")
    await wang.presses_data(act("notfixed", case.number).pack())
    await wang.sees("哪里还没解决")
    await wang.sends_voice(SAMPLE, 400)  # too long: the question stays
    await wang.sees("语音太长了")
    await wang.sends_voice(SAMPLE, 15)
    await wang.sees("已退回网格员重新处理")
    (note,) = await _notes(chat.db)
    assert (note.purpose, note.duration, note.case_id) == ("rejection", 15, case.id)
    async with chat.db.uow() as uow:
        assert (await uow.cases.by_number(case.number)).state.value == "reopened"
    await _deliver(chat)
    reopened = [m for m in li.messages if "还没解决" in m.text and m.voice is None]
    (voice,) = [m for m in li.messages if m.voice is not None]
    assert reopened and "没解决的原因（0:15）" in voice.text and voice.voice == SAMPLE


async def test_mydata_lists_her_voice_notes_and_forget_deletes_them_with_their_files(chat):
    wang, li = await _town(chat)
    await _at_words_step(chat, wang)
    await wang.sends_voice(SAMPLE, 42)
    await wang.presses("✅ 确认提交")
    (note,) = await _notes(chat.db)
    path = chat.voices.path(note.file)
    assert path.is_file()

    await wang.sends_text("/mydata")
    document = json.loads(wang.last_message.document[1])
    (listed,) = document["sections"]["voice_notes.person_id"]
    assert (listed["duration"], listed["file"], listed["purpose"]) == (42, note.file, "report")

    await wang.sends_text("/forget")
    await wang.presses("继续")
    await wang.presses("🗑 确认删除")
    await wang.sees("已删除您的信息")
    assert await _notes(chat.db) == []
    assert not path.exists()


async def test_retention_takes_a_cases_voice_notes_with_its_photos(chat, now):
    wang, li = await _town(chat)
    case = await _resolved_case(chat, wang, li, now)
    async with chat.db.uow() as uow:
        from core.voice import VoiceClip, VoicePurpose
        from core.voice_services import keep_with_case

        name, mime = await chat.voices.save(SAMPLE)
        await keep_with_case(uow, Actor(wang.person.id, Roles(list(await uow.people.grants(wang.person.id)))),
                             case.number, VoiceClip(name, 3, mime, len(SAMPLE)), VoicePurpose.REPORT, now)
        await cases_services.confirm_fix(uow, Actor(wang.person.id, Roles(list(await uow.people.grants(wang.person.id)))),
                                         case.number, 5, now)
        await uow.commit()
    assert len(await _notes(chat.db)) == 1
    policy = RetentionPolicy()
    async with chat.db.uow() as uow:
        assert await expire_case_photos(uow, policy, now + timedelta(days=policy.photo_days + 1)) == [case.number]
        await uow.commit()
    assert await _notes(chat.db) == []
    # the file goes with the daily sweep of files no row names (older than an open dialog could be)
    assert chat.voices.remove_unnamed(set(), modified_before=chat.voices.path(name).stat().st_mtime + 1) == 1


async def test_migration_0015_builds_what_the_tables_declare(db):
    """`alembic upgrade` ran in the fixture: voice_notes is as storage declares (columns, keys, indexes)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), t.metadata))
    assert [d for d in diffs if "voice_notes" in repr(d)] == []


def test_the_shipped_sample_is_an_ogg_opus_voice_of_three_seconds():
    """samples/voice_sample.ogg (samples/make_voice.py): Ogg pages, an OpusHead, and the last page's
    granule position 3 s of 48 kHz samples after the pre-skip, as a player reads its length."""
    import struct

    from samples.make_voice import PRE_SKIP, silent_voice

    assert SAMPLE == silent_voice()
    assert SAMPLE.startswith(b"OggS") and SAMPLE[28:36] == b"OpusHead"
    last = SAMPLE.rfind(b"OggS")
    granule = struct.unpack("<q", SAMPLE[last + 6:last + 14])[0]
    assert (granule - PRE_SKIP) / 48000 == 3.0 and SAMPLE[last + 5] & 0x04  # end of stream


async def test_a_service_order_described_in_a_voice_is_kept_and_played_to_the_staff(chat):
    wang, _ = await _town(chat)
    chen = await _person(chat, "陈书记", RoleGrant(None, 0, Role.STAFF, community_id=chat.world.communities["东城社区"].id))
    await wang.sends_text("/ask")
    await wang.presses("❓ 其他")  # words required: a voice note is the words
    await wang.sends_voice(SAMPLE, 190)
    await wang.sees("语音太长了")
    await wang.sends_voice(SAMPLE, 20)
    await wang.presses("尽快")
    await wang.presses("🏠 我家（粮食局小区 3号楼）")
    assert "🎤 0:20" in (await wang.sees("请确认")).text
    await wang.presses("✅ 确认提交")
    await wang.sees("已提交")
    (note,) = await _notes(chat.db)
    assert (note.purpose, note.duration, note.case_id, note.person_id) == ("order", 20, None, wang.person.id)
    assert note.order_id is not None
    await _deliver(chat)
    (voice,) = [m for m in chen.messages if m.voice is not None]
    assert voice.voice == SAMPLE and "居民的语音说明（0:20）" in voice.text
