"""The grid member's note reaches the resident with the three-photo card (the message, the picture
and /my), and the card says 处理完成 while the resident has not confirmed: 办结 only once closed."""

from __future__ import annotations

import media.card
from tests.e2e.test_report_loop_e2e import jpeg, wang_reports_a_broken_light


def spy_on_cards(monkeypatch) -> list[dict]:
    drawn: list[dict] = []
    original = media.card.render_card

    def render_card(*args, **kwargs):
        drawn.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(media.card, "render_card", render_card)
    return drawn


async def story_of(wang, number: str):
    await wang.sends_text("/my")
    listing = await wang.sees("您反映的问题")
    await wang.presses(next(label for label in listing.buttons if number in label))
    return await wang.sees("上报问题")


async def test_the_resident_reads_the_grid_members_note_and_the_card_says_done_not_closed(demo, monkeypatch):
    drawn = spy_on_cards(monkeypatch)
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10)
    await li.presses("✅ 受理")
    await li.presses("✅ 已处理，上传完成照片")
    await li.sends_photo(jpeg("yellow"))
    await li.sees("说明怎么处理")
    await li.sends_text("换了新灯泡，开关也检查过了")
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    card = await wang.sees("请看事前、事中、事后照片", timeout=10)
    assert card.has_photo and "换了新灯泡，开关也检查过了" in card.text
    (sent,) = drawn
    assert "换了新灯泡，开关也检查过了" in sent["note"]
    assert any("处理完成" in line for line in sent["subtitle_lines"])
    assert not any("办结" in line for line in sent["subtitle_lines"])  # she has not confirmed yet

    story = await story_of(wang, number)
    assert "换了新灯泡，开关也检查过了" in story.text

    await wang.presses("👍 已解决")
    await wang.presses("⭐⭐⭐⭐⭐")
    await wang.sees("谢谢您的评价")
    await demo.settled()
    await story_of(wang, number)
    assert any("办结" in line for line in drawn[-1]["subtitle_lines"])  # closed now
