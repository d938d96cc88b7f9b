"""The three-photo card: before, during, after ("事前、事中、事后三张图，形成处理闭环").

One JPEG that proves a fix at a glance, sent to the resident when asking them to confirm and
kept for the community's records:

    ┌──────────────────────────────────────────────────────────┐
    │ title (case number · category)                            │
    │ subtitle lines (reported at …, fixed at …)                │
    │ the handler's note, wrapped (up to 3 lines)               │
    │ ┌─ before (red) ──┐ ┌─ during (amber) ┐ ┌─ after (green) ─┐ │
    │ │     photo       │ │     photo       │ │     photo       │ │
    │ └─────────────────┘ └─────────────────┘ └─────────────────┘ │
    └──────────────────────────────────────────────────────────┘

Decisions:
* Always three panels. Without a during-photo the middle panel is neutral grey, with its
  label on a grey band and, if the caller gives one, a short `no_photo_text` ("未上传").
  Before and after never move, so people learn where to look, and a missing middle picture
  is visible instead of hidden.
* Photos are shown whole ("contain", on light grey), never cropped: the evidence may be
  at the edge. The panels take the shape of the photos (portrait 3:4 … landscape 4:3).
* Every word is passed in by the caller: the bot's text catalog owns them, in zh or en.
* Chinese needs a font with Chinese glyphs: `find_cjk_font` finds one or raises
  `FontMissing` naming the Debian package; it never falls back to a font that would draw
  boxes ("tofu").
* 1600 px wide (Telegram shows photos up to 2560 px; a phone shows this at ~1080 px, where
  the 40 px labels are still large). The card is a JPEG without metadata.
"""

from __future__ import annotations

import functools
import statistics
from pathlib import Path
from typing import Iterable, Sequence

from PIL import Image, ImageDraw, ImageFont

from core.cases import Actor, Case, PhotoKind
from media.photos import PhotoStore, encode_jpeg, open_photo

CARD_WIDTH = 1600
MARGIN = 25
GUTTER = 16
PANEL_WIDTH = (CARD_WIDTH - 2 * MARGIN - 2 * GUTTER) // 3   # 506
BAND_HEIGHT = 72
LABEL_SIZE = 40
TITLE_SIZE = 48
SUBTITLE_SIZE = 32
ACCENT_HEIGHT = 10
CARD_QUALITY = 85

BACKGROUND = (255, 255, 255)
ACCENT = (200, 16, 46)              # 党建红: the top rule
TITLE_COLOUR = (33, 33, 33)
SUBTITLE_COLOUR = (85, 85, 85)
PHOTO_BACKGROUND = (238, 238, 238)
# (band, text on the band) per panel: before red-ish, during amber, after green.
BAND_COLOURS = (((198, 40, 40), (255, 255, 255)),
                ((249, 168, 37), (51, 33, 0)),
                ((46, 125, 50), (255, 255, 255)))
MISSING_BAND = ((158, 158, 158), (255, 255, 255))
MISSING_TEXT_COLOUR = (117, 117, 117)

# Where Debian's packages put fonts with Chinese glyphs, best first.
KNOWN_CJK_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),   # fonts-noto-cjk
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),            # fonts-wqy-microhei
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),              # fonts-wqy-zenhei
)
FONT_ROOTS: tuple[Path, ...] = (Path("/usr/share/fonts"),)
_FONT_SUFFIXES = {".ttc", ".ttf", ".otf", ".otc"}
# A code point no font draws (plane 16, private use): what "missing" looks like in a font.
NOTDEF = "\U0010fffd"
_PROBE = "事前事后网格"


class FontMissing(RuntimeError):
    """No font with Chinese glyphs on this machine; the message says what to install."""


# --- fonts -------------------------------------------------------------------------------------


def find_cjk_font(candidates: Iterable[Path] = KNOWN_CJK_FONTS,
                  search_roots: Iterable[Path] = FONT_ROOTS) -> Path:
    """A font file that really draws Chinese: the well-known places first, then a search.

    A file only counts if "事前事后网格" renders as glyphs, not as the font's missing-glyph box.
    """
    candidates, search_roots = tuple(candidates), tuple(search_roots)
    for path in candidates:
        if _draws_chinese(Path(path)):
            return Path(path)
    for root in search_roots:
        for path in _font_files(Path(root)):
            if _draws_chinese(path):
                return path
    looked = ", ".join(str(p) for p in (*candidates, *search_roots)) or "nowhere"
    raise FontMissing(
        "No font with Chinese glyphs found (looked in " + looked + "). The photo card needs one: "
        "sudo apt-get install fonts-noto-cjk (or fonts-wqy-microhei), or pass font_path=…")


def renders_as_glyphs(font: ImageFont.FreeTypeFont, text: str) -> bool:
    """Every character of `text` draws something other than the font's missing-glyph box."""
    missing = _mask_bytes(font, NOTDEF)
    return all(not ch.strip() or _mask_bytes(font, ch) != missing for ch in text)


def load_font(path: Path, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The Simplified Chinese face of `path` (a .ttc holds JP, KR, SC, TC …), its bold sibling if asked."""
    path = Path(path)
    if bold:
        path = _bold_sibling(path)
    return _font(str(path), size)


def _font_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES
             and ("cjk" in p.name.lower() or "wqy" in p.name.lower()) and p.is_file()]
    # Sans before serif, regular before bold: the card's body text.
    return sorted(found, key=lambda p: ("serif" in p.name.lower(), "bold" in p.name.lower(), str(p)))


@functools.lru_cache(maxsize=64)
def _draws_chinese(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        return renders_as_glyphs(_font(str(path), 32), _PROBE)
    except OSError:
        return False


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=_chinese_face(path))


@functools.lru_cache(maxsize=16)
def _chinese_face(path: str) -> int:
    """The index of the Simplified Chinese face in a collection (Noto: 2 = "Noto Sans CJK SC")."""
    names: list[tuple[int, str]] = []
    for index in range(32):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        names.append((index, family))
    for wanted in (" SC", "CJK", ""):
        for index, family in names:
            if wanted in family and "Mono" not in family:
                return index
    return 0


def _bold_sibling(path: Path) -> Path:
    bold = path.with_name(path.name.replace("Regular", "Bold"))
    return bold if bold != path and bold.is_file() else path


def _mask_bytes(font: ImageFont.FreeTypeFont, text: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(text)
    return mask.size, bytes(mask)


# --- the card --------------------------------------------------------------------------------


NOTE_LINES = 3
NOTE_COLOUR = (33, 33, 33)


def render_card(before: bytes | None, during: bytes | None, after: bytes | None, *,
                labels: tuple[str, str, str], title: str, subtitle_lines: Sequence[str] = (),
                font_path: Path | None = None, no_photo_text: str = "", note: str = "") -> bytes:
    """The before | during | after card as a JPEG (see the module doc).

    `labels` name the three panels ("事前", "事中", "事后"); `title` is one line (the case number
    and category); `subtitle_lines` a few short lines (reported / fixed times). Text too long
    for its place is shortened with "…". `no_photo_text` is drawn in the middle panel when
    there is no during-photo. `note` (what the handler did, as the resident should read it) is
    wrapped under the subtitles, at most three lines. Photos go through `media.photos.open_photo`,
    like any upload.
    """
    if len(labels) != 3:
        raise ValueError("labels: before, during, after")
    font_path = Path(font_path) if font_path is not None else find_cjk_font()
    title_font = load_font(font_path, TITLE_SIZE, bold=True)
    subtitle_font = load_font(font_path, SUBTITLE_SIZE)
    missing_font = load_font(font_path, SUBTITLE_SIZE)

    photos = [open_photo(data, max_side=720) if data is not None else None for data in (before, during, after)]
    ratio = _panel_ratio([p for p in photos if p is not None])
    photo_height = round(PANEL_WIDTH * ratio)

    title_line = TITLE_SIZE * 13 // 10
    subtitle_line = SUBTITLE_SIZE * 14 // 10
    top = ACCENT_HEIGHT + MARGIN
    text_width = CARD_WIDTH - 2 * MARGIN
    note_lines = _wrap(note, subtitle_font, text_width, NOTE_LINES) if note else []
    header = title_line + subtitle_line * (len(subtitle_lines) + len(note_lines)) + MARGIN * 3 // 4
    height = top + header + BAND_HEIGHT + photo_height + MARGIN
    card = Image.new("RGB", (CARD_WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, CARD_WIDTH, ACCENT_HEIGHT - 1), fill=ACCENT)

    y = top
    draw.text((MARGIN, y), _shorten(title, title_font, text_width), font=title_font, fill=TITLE_COLOUR)
    y += title_line
    for line in subtitle_lines:
        draw.text((MARGIN, y), _shorten(line, subtitle_font, text_width), font=subtitle_font,
                  fill=SUBTITLE_COLOUR)
        y += subtitle_line
    for line in note_lines:
        draw.text((MARGIN, y), line, font=subtitle_font, fill=NOTE_COLOUR)
        y += subtitle_line
    y = top + header

    for index, (photo, label) in enumerate(zip(photos, labels)):
        x = MARGIN + index * (PANEL_WIDTH + GUTTER)
        band, ink = BAND_COLOURS[index] if photo is not None else MISSING_BAND
        draw.rectangle((x, y, x + PANEL_WIDTH - 1, y + BAND_HEIGHT - 1), fill=band)
        font = _fitting_font(font_path, label, PANEL_WIDTH - 24)
        draw.text((x + PANEL_WIDTH // 2, y + BAND_HEIGHT // 2), _shorten(label, font, PANEL_WIDTH - 24),
                  font=font, fill=ink, anchor="mm")
        box = (x, y + BAND_HEIGHT, x + PANEL_WIDTH, y + BAND_HEIGHT + photo_height)
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=PHOTO_BACKGROUND)
        if photo is None:
            if no_photo_text:
                draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2),
                          _shorten(no_photo_text, missing_font, PANEL_WIDTH - 40),
                          font=missing_font, fill=MISSING_TEXT_COLOUR, anchor="mm")
            continue
        _paste_contained(card, photo, box)
    return encode_jpeg(card, quality=CARD_QUALITY)


def _panel_ratio(photos: Sequence[Image.Image]) -> float:
    """Height / width of the panels: the photos' median shape, between 4:3 landscape and 3:4 portrait."""
    if not photos:
        return 4 / 3
    median = statistics.median(p.height / p.width for p in photos)
    return min(4 / 3, max(3 / 4, median))


def _paste_contained(card: Image.Image, photo: Image.Image, box: tuple[int, int, int, int]) -> None:
    width, height = box[2] - box[0], box[3] - box[1]
    scale = min(width / photo.width, height / photo.height)
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    if size != photo.size:
        photo = photo.resize(size, Image.Resampling.LANCZOS)
    card.paste(photo, (box[0] + (width - size[0]) // 2, box[1] + (height - size[1]) // 2))


def _fitting_font(font_path: Path, text: str, width: int) -> ImageFont.FreeTypeFont:
    """The label's font, smaller for a long label (an English one, say), down to 26 px."""
    size = LABEL_SIZE
    font = load_font(font_path, size, bold=True)
    while size > 26 and font.getlength(text) > width:
        size -= 2
        font = load_font(font_path, size, bold=True)
    return font


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """`text` in lines that fit `width`, broken anywhere (Chinese has no spaces); the last of
    `max_lines` ends in "…" when more was left."""
    words = " ".join(str(text).split())
    lines: list[str] = []
    while words and len(lines) < max_lines:
        low, high = 1, len(words)  # the longest start that fits (at least one character)
        while low < high:
            middle = (low + high + 1) // 2
            if font.getlength(words[:middle]) <= width:
                low = middle
            else:
                high = middle - 1
        cut = low
        lines.append(words[:cut].rstrip())
        words = words[cut:].lstrip()
    if words and lines:
        lines[-1] = _shorten(lines[-1] + "…" + words, font, width)
    return lines


def _shorten(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    text = " ".join(str(text).split())
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


# --- a case's card -----------------------------------------------------------------------------


async def case_card(store: PhotoStore, case: Case, *, viewer: Actor | None, labels: tuple[str, str, str], title: str,
                    subtitle_lines: Sequence[str] = (), no_photo_text: str = "", note: str = "") -> bytes:
    """The card of `case` from its stored photos: its first before-photo, its newest during- and
    after-photos. Every channel shows a resolved case this way; the words come from
    `texts.cases.card_words` in the reader's language. Each photo as `viewer` may see it: faces
    blurred for a neighbour who joined, for the reporter on the handler's photos (core.disclosure)."""
    before, during, after = (case.photos_of(k) for k in (PhotoKind.BEFORE, PhotoKind.DURING, PhotoKind.AFTER))
    images = [await store.load_for(viewer, case, p[-1]) if p else None for p in (before[:1], during, after)]
    return render_card(images[0], images[1], images[2], labels=labels, title=title, subtitle_lines=subtitle_lines,
                       no_photo_text=no_photo_text, note=note)
