"""The three-photo card: its size and bands, and Chinese that really renders (not tofu boxes).

Needs a font with Chinese glyphs (Debian: fonts-noto-cjk or fonts-wqy-microhei). Outside CI a
machine without one skips these tests with the reason; in CI (CI=true) they fail.
"""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

from media import card as card_module
from tests.conftest import service_missing
from media.card import (BAND_COLOURS, BAND_HEIGHT, CARD_WIDTH, GUTTER, MARGIN, MISSING_BAND, NOTDEF,
                        PANEL_WIDTH, FontMissing, find_cjk_font, load_font, render_card, renders_as_glyphs)

ZH = ("事前", "事中", "事后")


@pytest.fixture(scope="module")
def cjk_font():
    try:
        return find_cjk_font()
    except FontMissing as missing:
        service_missing("a CJK font", missing, "apt-get install -y fonts-noto-cjk")


def photo(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), outline=(0, 0, 0), width=10)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


BEFORE = photo(900, 1200, (120, 90, 60))
DURING = photo(1200, 900, (200, 160, 40))
AFTER = photo(900, 1200, (60, 160, 80))


def make(font, *, labels=ZH, during=DURING, title="DC-2026-000123 · 垃圾堆放",
         subtitle_lines=("上报：2026年11月21日 09:12", "办结：2026年11月22日 16:40"), **kwargs) -> Image.Image:
    data = render_card(BEFORE, during, AFTER, labels=labels, title=title, subtitle_lines=list(subtitle_lines),
                       font_path=font, **kwargs)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image.convert("RGB")


def near(a, b, tolerance=40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def band_top(card: Image.Image, panel: int, colour) -> int:
    """The first row of a panel's band: 20 rows of its colour down the panel's left edge."""
    x = MARGIN + panel * (PANEL_WIDTH + GUTTER) + 4
    for y in range(card_module.ACCENT_HEIGHT + 2, card.height - 20):
        if all(near(card.getpixel((x, y + dy)), colour, 25) for dy in range(20)):
            return y
    raise AssertionError(f"no band of colour {colour} in panel {panel}")


def band(card: Image.Image, panel: int, colour) -> Image.Image:
    x = MARGIN + panel * (PANEL_WIDTH + GUTTER)
    y = band_top(card, panel, colour)
    return card.crop((x + 2, y + 4, x + PANEL_WIDTH - 2, y + BAND_HEIGHT - 4))


def varies(image: Image.Image) -> bool:
    return max(ImageStat.Stat(image.convert("L")).stddev) > 8


def has_ink(image: Image.Image) -> bool:
    low, high = image.convert("L").getextrema()
    return high - low > 60


# --- fonts -------------------------------------------------------------------------------------


def test_the_font_found_draws_chinese_not_tofu(cjk_font):
    font = load_font(cjk_font, 40)
    assert renders_as_glyphs(font, "事前事中事后网格员")
    tofu = font.getmask(NOTDEF * 2)
    for word in ZH:
        mask = font.getmask(word)
        assert (mask.size, bytes(mask)) != (tofu.size, bytes(tofu))
        assert max(mask) > 0                                    # ink, not an empty glyph
    first, second = font.getmask("事前"), font.getmask("事后")
    assert bytes(first) != bytes(second)


def test_a_font_without_chinese_is_caught_drawing_tofu():
    latin_only = ImageFont.load_default(40)                     # Pillow's own font: Latin only
    assert renders_as_glyphs(latin_only, "Before")
    assert not renders_as_glyphs(latin_only, "事前")


def test_no_font_means_a_clear_error_naming_the_package(tmp_path):
    with pytest.raises(FontMissing, match="fonts-noto-cjk"):
        find_cjk_font(candidates=[tmp_path / "nothing.ttc"], search_roots=[tmp_path])


def test_a_font_named_cjk_without_chinese_glyphs_is_not_taken(tmp_path):
    fake = tmp_path / "fonts" / "FakeCJK-Regular.ttf"
    fake.parent.mkdir()
    fake.write_bytes(ImageFont.load_default(20).font_bytes)    # Latin only, whatever the name says
    with pytest.raises(FontMissing):
        find_cjk_font(candidates=[fake], search_roots=[tmp_path])


def test_the_search_finds_a_cjk_font_outside_the_known_places(tmp_path, cjk_font):
    copy = tmp_path / "share" / "wqy-microhei.ttc"
    copy.parent.mkdir()
    shutil.copyfile(cjk_font, copy)
    assert find_cjk_font(candidates=[], search_roots=[tmp_path]) == copy


def test_noto_collections_use_the_simplified_chinese_face(cjk_font):
    if "NotoSansCJK" not in cjk_font.name:
        pytest.skip("not Noto")
    assert load_font(cjk_font, 20).getname()[0] == "Noto Sans CJK SC"
    assert load_font(cjk_font, 20, bold=True).getname() == ("Noto Sans CJK SC", "Bold")


# --- the card ----------------------------------------------------------------------------------


def test_card_size_and_no_metadata(cjk_font):
    data = render_card(BEFORE, DURING, AFTER, labels=ZH, title="DC-2026-000123", subtitle_lines=["上报"],
                       font_path=cjk_font)
    image = Image.open(io.BytesIO(data))
    assert image.width == CARD_WIDTH <= 1600
    assert 700 < image.height < 1200
    assert dict(image.getexif()) == {} and "exif" not in image.info
    assert len(data) < 600_000


def test_three_coloured_bands_each_with_its_label(cjk_font):
    card = make(cjk_font)
    for panel, (colour, _) in enumerate(BAND_COLOURS):
        assert varies(band(card, panel, colour)), f"panel {panel} has no label"
    blank = make(cjk_font, labels=("", "", ""))
    for panel, (colour, _) in enumerate(BAND_COLOURS):
        assert not varies(band(blank, panel, colour)), f"panel {panel} should be plain without a label"


def test_chinese_labels_on_the_card_are_not_tofu_and_differ_from_each_other(cjk_font):
    card = make(cjk_font)
    tofu = make(cjk_font, labels=(NOTDEF * 2,) * 3)
    bands = [band(card, panel, colour) for panel, (colour, _) in enumerate(BAND_COLOURS)]
    tofu_bands = [band(tofu, panel, colour) for panel, (colour, _) in enumerate(BAND_COLOURS)]
    for real, boxes in zip(bands, tofu_bands):
        assert ImageChops.difference(real, boxes).getbbox() is not None
    # "事前" and "事后" drawn on the same colour look different.
    same_colour = make(cjk_font, labels=("事前", "事中", "事前"))
    assert ImageChops.difference(band(card, 2, BAND_COLOURS[2][0]), band(same_colour, 2, BAND_COLOURS[2][0])).getbbox()


def test_the_title_is_drawn_in_chinese(cjk_font):
    titled = make(cjk_font, title="东城社区 垃圾堆放")
    other = make(cjk_font, title="东城社区 消防通道")
    tofu = make(cjk_font, title=NOTDEF * 9)
    header = (MARGIN, 10, CARD_WIDTH - MARGIN, 10 + MARGIN + 62)
    assert ImageChops.difference(titled.crop(header), other.crop(header)).getbbox()
    assert ImageChops.difference(titled.crop(header), tofu.crop(header)).getbbox()


def test_photos_sit_in_their_panels(cjk_font):
    card = make(cjk_font)
    top = band_top(card, 0, BAND_COLOURS[0][0]) + BAND_HEIGHT
    for panel, colour in enumerate([(120, 90, 60), (200, 160, 40), (60, 160, 80)]):
        x = MARGIN + panel * (PANEL_WIDTH + GUTTER) + PANEL_WIDTH // 2
        assert near(card.getpixel((x, top + 60 if panel != 1 else top + 340)), colour, 30)


def test_without_a_during_photo_the_middle_panel_is_neutral(cjk_font):
    card = make(cjk_font, during=None, no_photo_text="未上传")
    assert varies(band(card, 1, MISSING_BAND[0]))               # the label, on a grey band
    assert varies(band(card, 0, BAND_COLOURS[0][0])) and varies(band(card, 2, BAND_COLOURS[2][0]))
    top = band_top(card, 1, MISSING_BAND[0]) + BAND_HEIGHT
    x = MARGIN + PANEL_WIDTH + GUTTER
    body = card.crop((x, top, x + PANEL_WIDTH, top + 600))
    assert has_ink(body)                                        # "未上传" is written in it
    assert near(body.getpixel((10, 10)), card_module.PHOTO_BACKGROUND, 6)
    silent = make(cjk_font, during=None)
    assert not has_ink(silent.crop((x, top, x + PANEL_WIDTH, top + 600)))


def test_long_texts_are_shortened_not_overflowing(cjk_font):
    card = make(cjk_font, title="很长的标题" * 40, subtitle_lines=["很长的一行" * 50],
                labels=("Before the grid member came", "While the work was under way", "After it was fixed"))
    assert card.width == CARD_WIDTH
    right_margin = card.crop((CARD_WIDTH - MARGIN + 4, 12, CARD_WIDTH, 150))
    assert not has_ink(right_margin)


def test_english_words_work_too(cjk_font):
    card = make(cjk_font, labels=("Before", "During", "After"), title="DC-2026-000123 · Garbage",
                subtitle_lines=["Reported 21 Nov 09:12", "Fixed 22 Nov 16:40"])
    for panel, (colour, _) in enumerate(BAND_COLOURS):
        assert varies(band(card, panel, colour))


def test_panels_take_the_shape_of_the_photos(cjk_font):
    portrait = Image.open(io.BytesIO(render_card(BEFORE, None, AFTER, labels=ZH, title="t", subtitle_lines=[],
                                                 font_path=cjk_font)))
    wide = photo(1600, 900, (90, 90, 200))
    landscape = Image.open(io.BytesIO(render_card(wide, wide, wide, labels=ZH, title="t", subtitle_lines=[],
                                                  font_path=cjk_font)))
    assert portrait.height - landscape.height == round(PANEL_WIDTH * 4 / 3) - round(PANEL_WIDTH * 3 / 4)


def test_labels_must_be_three(cjk_font):
    with pytest.raises(ValueError):
        render_card(BEFORE, DURING, AFTER, labels=("事前", "事后"), title="t", subtitle_lines=[], font_path=cjk_font)


def test_card_titles_lose_the_emoji_the_cjk_font_cannot_draw():
    from texts.cases import without_emoji

    assert without_emoji("💡 路灯/楼道灯") == "路灯/楼道灯"
    assert without_emoji("🗑 Garbage") == "Garbage"
    assert without_emoji("🚰 下水道/管道") == "下水道/管道"


def test_the_handlers_note_is_written_under_the_times_in_at_most_three_lines(cjk_font):
    from media.card import ACCENT_HEIGHT, SUBTITLE_SIZE, TITLE_SIZE

    line = SUBTITLE_SIZE * 14 // 10
    plain = make(cjk_font)
    short = make(cjk_font, note="处理说明：换了新灯泡")
    long = make(cjk_font, note="处理说明：" + "换了新灯泡，开关也检查过了。" * 30)
    assert short.height == plain.height + line
    assert long.height == plain.height + 3 * line  # wrapped, and cut with "…" after three lines
    # under the title and the two time lines, the top of the note's line carries dark ink (the card
    # without a note has white there, just above its bands)
    note_top = ACCENT_HEIGHT + MARGIN + TITLE_SIZE * 13 // 10 + 2 * line
    written = short.crop((MARGIN, note_top, MARGIN + 300, note_top + 16)).convert("L")
    blank = plain.crop((MARGIN, note_top, MARGIN + 300, note_top + 16)).convert("L")
    assert ImageStat.Stat(written).extrema[0][0] < 100 < ImageStat.Stat(blank).extrema[0][0]
