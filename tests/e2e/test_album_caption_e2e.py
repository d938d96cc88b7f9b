"""Albums and captions, as people really send them (issue #13, items 3 and 5).

A resident picks two or three photos and sends them with no dialog open: Telegram delivers one
message per photo, sharing a media_group_id, at the same instant. A caption (the resident's words,
the grid member's note) rides on one of those messages. Nothing may be lost and nothing asked twice.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_report_loop_e2e import jpeg, submits, wang_reports_a_broken_light

COLOURS = ["red", "blue", "green", "yellow", "purple", "white", "black", "orange"]


def photos(n: int, first: int = 0) -> list[bytes]:
    return [jpeg(c) for c in COLOURS[first:first + n]]


def texts(person, fragment: str) -> list[str]:
    return [m.text for m in person.messages if fragment in m.text]


async def goes_on_to_summary(resident, *, words: str | None = None):
    """下一步 → lights → their own building → (words, or skip) → the summary."""
    await resident.presses("下一步")
    await resident.sees("这是什么问题")
    await resident.presses("💡 路灯/楼道灯")
    await resident.presses("我的楼栋（粮食局小区 3号楼）")
    await resident.sees("几句话")
    if words is None:
        await resident.presses("跳过")
    else:
        await resident.sends_text(words)
    return await resident.sees("请确认")


async def case_photos(demo, number: str, kind: str) -> list:
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    return [p for p in case.photos if p.kind.value == kind]


# ---- item 3: an album opens the report and keeps every photo -------------------------------------

@pytest.mark.parametrize("n", [2, 3, 5])
async def test_an_album_sent_with_no_dialog_open_keeps_every_photo(demo, n):
    wang = demo.persona("王阿姨")
    await wang.sends_album(photos(n))
    await wang.sees(f"已收到 {n} 张照片")
    await demo.settled()
    assert len(texts(wang, "已收到")) == 1, wang.transcript  # one count, edited as the album comes in
    assert len(wang.messages) == 1, wang.transcript  # and nothing else said
    summary = await goes_on_to_summary(wang)
    assert f"照片 {n} 张" in summary.text
    number = await submits(wang)
    assert len(await case_photos(demo, number, "before")) == n


async def test_an_album_of_six_keeps_five_and_says_so_once(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_album(photos(6))
    await wang.sees("已收到 5 张照片")
    await demo.settled()
    assert len(texts(wang, "已收到")) == 1, wang.transcript
    assert len(texts(wang, "多出的没有收下")) == 1, wang.transcript  # "at most five", once
    summary = await goes_on_to_summary(wang)
    assert "照片 5 张" in summary.text


async def test_an_album_after_report_keeps_adding_to_the_same_count(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_text("/report")
    await wang.sees("请拍照")
    await wang.sends_album(photos(3))
    await wang.sees("已收到 3 张照片")
    await wang.sends_photo(jpeg("orange"))
    await wang.sees("已收到 4 张照片")
    summary = await goes_on_to_summary(wang)
    assert "照片 4 张" in summary.text


# ---- item 3: albums in the grid member's photo steps ----------------------------------------------

async def li_has_accepted(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10)
    await li.presses("✅ 受理")
    await li.sees(f"已受理 {number}")
    return wang, li, number


async def test_an_album_as_during_photos_is_saved_whole_and_answered_once(demo):
    wang, li, number = await li_has_accepted(demo)
    await li.presses("📷 上传处理中照片")
    await li.sees("处理中的照片")
    before = len(li.messages)
    await li.sends_album(photos(3, first=3))
    await li.sees("已保存 3 张处理中照片")
    await demo.settled()
    assert len(li.messages) == before + 1, li.transcript  # one answer, not one per photo
    assert len(await case_photos(demo, number, "during")) == 3


async def test_an_album_of_six_during_photos_keeps_five_and_says_so_once(demo):
    wang, li, number = await li_has_accepted(demo)
    await li.presses("📷 上传处理中照片")
    await li.sees("处理中的照片")
    before = len(li.messages)
    await li.sends_album(photos(6, first=2))
    await li.sees("已保存 5 张处理中照片")
    await demo.settled()
    assert len(li.messages) == before + 2, li.transcript  # the count, and "five at most" once
    assert len(texts(li, "最多 5 张")) == 1, li.transcript
    assert len(await case_photos(demo, number, "during")) == 5
    await li.presses("✅ 已处理，上传完成照片")  # the count kept the buttons
    await li.sees("处理后的照片")


async def test_an_album_as_after_photo_asks_for_the_note_once_and_uses_the_first(demo):
    wang, li, number = await li_has_accepted(demo)
    await li.presses("✅ 已处理，上传完成照片")
    await li.sees("处理后的照片")
    before = len(li.messages)
    await li.sends_album(photos(3, first=3))
    asked = await li.sees("第一张")
    assert "说明怎么处理" in asked.text
    await demo.settled()
    assert len(li.messages) == before + 1, li.transcript  # the note is asked once
    await li.sends_text("换了新灯泡")
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    await li.sees("等待居民确认")
    after = await case_photos(demo, number, "after")
    assert len(after) == 1


# ---- item 5: captions answer the next step ---------------------------------------------------------

async def test_a_caption_on_the_report_photo_becomes_the_description(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_photo(jpeg("navy"), caption="3号楼楼道灯坏了")
    await wang.sees("已收到 1 张照片")
    await wang.presses("下一步")
    await wang.presses("💡 路灯/楼道灯")
    await wang.presses("我的楼栋（粮食局小区 3号楼）")
    summary = await wang.sees("请确认")  # no "describe it" step
    assert "3号楼楼道灯坏了" in summary.text
    assert not texts(wang, "几句话"), wang.transcript
    number = await submits(wang)
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.description == "3号楼楼道灯坏了"


async def test_a_caption_on_an_album_becomes_the_description(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_album(photos(3), caption="路灯不亮")
    await wang.sees("已收到 3 张照片")
    await wang.presses("下一步")
    await wang.presses("💡 路灯/楼道灯")
    await wang.presses("我的楼栋（粮食局小区 3号楼）")
    summary = await wang.sees("请确认")
    assert "路灯不亮" in summary.text and "照片 3 张" in summary.text


async def test_a_caption_too_long_is_refused_and_the_words_are_asked(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_photo(jpeg("navy"), caption="灯" * 501)
    await wang.sees("已收到 1 张照片")
    await wang.presses("下一步")
    await wang.presses("💡 路灯/楼道灯")
    await wang.presses("我的楼栋（粮食局小区 3号楼）")
    asked = await wang.sees("几句话")
    assert "500" in asked.text  # says why the caption was not taken
    await wang.sends_text("楼道灯坏了")
    summary = await wang.sees("请确认")
    assert "楼道灯坏了" in summary.text and "灯灯灯" not in summary.text


async def test_a_caption_on_the_after_photo_is_the_note_and_resolves(demo):
    wang, li, number = await li_has_accepted(demo)
    await li.presses("✅ 已处理，上传完成照片")
    await li.sees("处理后的照片")
    await li.sends_photo(jpeg("yellow"), caption="换了新灯泡")
    await li.sees("最后一步")  # the caption is the note: the location is asked at once (issue #20)
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    await li.sees("等待居民确认")
    assert not texts(li, "说明怎么处理"), li.transcript
    await wang.sees("请看事前、事中、事后照片", timeout=10)
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "resolved" and case.resolution_note == "换了新灯泡"


async def test_an_album_with_a_caption_as_after_photo_resolves_at_once(demo):
    wang, li, number = await li_has_accepted(demo)
    await li.presses("✅ 已处理，上传完成照片")
    await li.sees("处理后的照片")
    before = len(li.messages)
    await li.sends_album(photos(3, first=3), caption="换了新灯泡")
    await li.sees("最后一步")  # the caption is the note: the location is asked at once (issue #20)
    await demo.settled()
    assert len(li.messages) == before + 2, li.transcript  # the rest of the album is taken quietly
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    done = await li.sees("等待居民确认")
    assert "第一张" in done.text
    assert not texts(li, "说明怎么处理"), li.transcript
    await demo.settled()  # the answer goes out before the update commits
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "resolved" and case.resolution_note == "换了新灯泡"
    assert len([p for p in case.photos if p.kind.value == "after"]) == 1
