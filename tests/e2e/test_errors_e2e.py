"""When something goes wrong, the person still gets an answer: a file too big for the Bot API to hand
over, an edit that changes nothing (a forged or repeated press), and an error nobody expected."""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.callbacks import SetLanguage
from bot.callbacks import Vol
from storage import tables
from tests.e2e.test_report_loop_e2e import jpeg

BIG = 21 * 1024 * 1024


async def test_a_picture_over_20_mb_sent_as_a_file_without_its_size_is_refused_with_the_limit(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_text("/report")
    await wang.sees("请拍照或发送问题的照片")
    huge = jpeg("navy") + b"\0" * BIG  # Telegram leaves out file_size at times; getFile then refuses
    await wang.sends_document(huge, "scan.jpg", "image/jpeg", with_size=False)
    await wang.sees("最多 20 MB")
    await demo.settled()  # a refusal, not a failure: nothing is left failed in the inbox
    await wang.sends_photo(jpeg("red"))  # the dialog is still at the photo step
    await wang.sees("已收到 1 张照片")


async def test_forged_presses_whose_edit_changes_nothing_still_do_their_work(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_text("/lang")
    await wang.presses("中文")
    chosen = await wang.sees("以后用中文")
    # the same choice again on the message that already says so: the edit changes nothing
    query = demo.stack.standin.user_presses_button(wang.user_id, chosen.message_id,
                                                    SetLanguage(lang="zh").pack(), forged=True)
    assert (await demo.stack.standin.wait_callback_answer(query)).answered
    await demo.settled()  # no update failed on "message is not modified"

    chen = demo.persona("陈书记")
    await chen.sends_text("/help")
    some = await chen.sees("您可以")  # a message without buttons: dropping them changes nothing
    async with demo.db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.name == "东城社区"]
    query = demo.stack.standin.user_presses_button(chen.user_id, some.message_id,
                                                    Vol(action="newpost", person=community.id).pack(), forged=True)
    assert (await demo.stack.standin.wait_callback_answer(query)).answered
    await chen.sees("岗位名称")  # the press went on to open the post dialog
    await demo.settled()


async def _failed_rows(demo) -> list:
    async with demo.db.engine.connect() as conn:
        return (await conn.execute(select(tables.inbox.c.update_id, tables.inbox.c.error)
                                   .where(tables.inbox.c.state == "failed"))).all()


async def test_an_unexpected_error_gets_a_polite_answer_a_log_line_with_the_update_and_is_kept(
        demo, monkeypatch, caplog):
    import bot.handlers.common as common

    async def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(common, "greeting", broken)
    wang = demo.persona("王阿姨")
    await wang.sends_text("/help")
    await wang.sees("抱歉，出了点问题")
    await demo.settled(failed_ok=True)
    (failed,) = await _failed_rows(demo)  # kept as failed, as before: an operator may replay it
    assert "RuntimeError" in failed.error
    assert any(str(failed.update_id) in record.getMessage() and record.name == "bot.middlewares"
               for record in caplog.records)

    monkeypatch.setattr(common, "set_language", broken)
    await wang.sends_text("/lang")
    answer = await wang.presses("English")
    assert answer.show_alert and "抱歉，出了点问题" in answer.text


async def test_an_error_after_the_press_was_answered_is_told_in_the_chat(demo, monkeypatch):
    import bot.handlers.common as common

    async def broken(*_args, **_kwargs):
        raise RuntimeError("Telegram is down")

    monkeypatch.setattr(common, "publish_commands", broken)  # runs after the press is answered
    wang = demo.persona("王阿姨")
    await wang.sends_text("/lang")
    await wang.presses("English")
    await wang.sees("抱歉，出了点问题")  # still in her old language: the change was rolled back
    await demo.settled(failed_ok=True)
    assert len(await _failed_rows(demo)) == 1
