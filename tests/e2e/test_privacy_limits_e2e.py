"""#17 end to end, the real bot against the stand-in: what a resident writes is never markup to anyone,
an anonymous report reaches the grid member as "匿名居民", and the logs of a whole loop name nobody."""

from __future__ import annotations

import logging
from dataclasses import replace

from tests.e2e.test_report_loop_e2e import jpeg, reports_a_broken_light, submits

MARKUP = "<b>x</b> *bold* _x_ [a](tg://user?id=1)"
WANG_PHONE = "13812341234"


def formatted(message) -> list[str]:
    """The entity types Telegram would draw in a message (bold, links …), text or caption."""
    raw = message.raw
    return [e.get("type") for e in (raw.get("entities") or []) + (raw.get("caption_entities") or [])]


async def test_words_that_look_like_markup_are_shown_literally_to_the_grid_member_and_back(demo):
    wang = demo.persona("王阿姨")
    await reports_a_broken_light(wang, words=MARKUP)
    summary = await wang.sees("请确认")  # a live reply (a message edited by a press)
    assert MARKUP in summary.text and formatted(summary) == []
    number = await submits(wang)
    li = demo.persona("李秀英")
    told = await li.sees(number, timeout=10)  # a notification with the photo: the words are a caption
    assert told.has_photo and MARKUP in told.text and formatted(told) == []
    await li.presses("✅ 受理")
    await li.presses("✅ 已处理，上传完成照片")
    await li.sends_photo(jpeg("yellow"))
    await li.sees("说明怎么处理")
    await li.sends_text(MARKUP)  # the grid member's note reaches the resident the same way
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    done = await li.sees("等待居民确认")
    assert formatted(done) == []
    card = await wang.sees("问题解决了吗", timeout=10)
    assert MARKUP in card.text and formatted(card) == []


async def test_an_anonymous_report_and_the_logs_of_a_whole_loop_name_nobody(demo, caplog):
    caplog.set_level(logging.DEBUG)
    async with demo.db.uow() as uow:  # 王阿姨 has a phone on record (a resident who shared it)
        wang_person, li_person = [await uow.people.by_identity("telegram", str(demo.persona(name).user_id))
                                  for name in ("王阿姨", "李秀英")]
        await uow.people.update(replace(wang_person, phone=WANG_PHONE))
        await uow.commit()
    words, note = "三单元楼道灯坏了一个星期", "换了新灯泡和开关"
    wang = demo.persona("王阿姨")
    await reports_a_broken_light(wang, words=words)
    await wang.sees("请确认")
    await wang.presses("🙈 不让网格员看到我是谁")
    await wang.sees("匿名上报")
    number = await submits(wang)
    li = demo.persona("李秀英")
    told = await li.sees(number, timeout=10)
    assert "反映人：匿名居民" in told.text and "王阿姨" not in told.text and WANG_PHONE not in told.text
    await li.presses("✅ 受理")
    await li.presses("✅ 已处理，上传完成照片")
    await li.sends_photo(jpeg("yellow"))
    await li.sees("说明怎么处理")
    await li.sends_text(note)
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    await wang.sees("问题解决了吗", timeout=10)
    await wang.presses("👍 已解决")
    await wang.presses("⭐⭐⭐⭐⭐ 5")
    await li.sees("评分 5 星", timeout=10)
    await demo.settled()
    ours = "\n".join(r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records
                     if not r.name.startswith("demo."))  # the stand-in plays Telegram: its log is not ours
    assert ours  # the loop did log (ids and counts)
    for personal in ("王阿姨", WANG_PHONE, words, note, li_person.display_name, li_person.phone or "-"):
        assert personal not in ours, personal
