"""Door cards (门牌二维码): a printable A4 sheet, and one PNG per card, of the QR codes core/door_code_services
hands out — one card per building, one per compound's shared space (gate, garage).

Each card has the QR code of the Telegram deep link, the place's name large, the community's name and
the line "扫码登记 / 随手拍"; where the WeChat Official Account is set up, its own QR code (带参数二维码,
drawn by WeChat and passed in here as PNG bytes) stands beside the Telegram one.

segno draws the QR codes (pure Python, no Pillow needed for them); fpdf2 lays out the PDF and embeds the
font with Chinese glyphs, subset to the characters used, so the sheet prints the same anywhere. The
font is found with fontconfig (`fc-match :lang=zh-cn`), then in the places Debian puts Noto Sans CJK and
WenQuanYi (media.card.find_cjk_font); none: `NoCjkFont` says what to install.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

from media.card import FontMissing, find_cjk_font

TAGLINE = "扫码登记 / 随手拍"
TAGLINE_EN = "Scan to register / report a problem"
A4 = (210.0, 297.0)        # mm
MARGIN = 10.0
COLUMNS, ROWS = 2, 3
CARD_W = (A4[0] - 2 * MARGIN) / COLUMNS   # 95 mm
CARD_H = (A4[1] - 2 * MARGIN) / ROWS      # 92.3 mm
PNG_DPI = 300


class NoCjkFont(RuntimeError):
    """No font with Chinese glyphs on this machine: the message says what to install."""


@dataclass(frozen=True)
class CardFace:
    """What one card shows."""

    link: str                       # what the Telegram QR code holds
    title: str                      # "阳光小区 1号楼"
    community: str                  # "东城社区"
    wechat_qr: bytes | None = None  # the Official Account's QR code (PNG), when WeChat is set up
    file_stem: str = "card"         # the PNG's name


@dataclass(frozen=True)
class CjkFont:
    path: Path
    index: int = 0   # the face inside a .ttc collection


def find_font() -> CjkFont:
    """A font with Chinese glyphs: fontconfig's choice for Simplified Chinese, else a known file."""
    if shutil.which("fc-match"):
        try:
            found = subprocess.run(["fc-match", "-f", "%{file}\n%{index}\n%{lang}", ":lang=zh-cn"],
                                   capture_output=True, text=True, timeout=10).stdout.split("\n")
        except (OSError, subprocess.SubprocessError):
            found = []
        if len(found) >= 3 and found[0] and "zh-cn" in found[2].split("|") and Path(found[0]).is_file():
            return CjkFont(Path(found[0]), int(found[1] or 0))
    try:
        path = find_cjk_font()
    except FontMissing:
        raise NoCjkFont("No font with Chinese glyphs found (fontconfig has none for zh-cn). The QR cards need "
                        "one: sudo apt-get install fonts-noto-cjk (or fonts-wqy-microhei).") from None
    index = 2 if path.name.startswith("NotoSansCJK") else 0   # the SC face of Noto Sans CJK's collection
    return CjkFont(path, index)


def qr_png(data: str, scale: int = 10) -> bytes:
    """A QR code as PNG bytes (error correction M: a door card gets scratched)."""
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


# ---- the PDF -----------------------------------------------------------------------------------

def cards_pdf(faces: list[CardFace], font: CjkFont | None = None) -> bytes:
    """An A4 sheet (as many pages as needed), six cards a page, with dashed lines to cut along."""
    from fpdf import FPDF

    font = font or find_font()
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title("门牌二维码")
    pdf.set_creator("redgrid")
    pdf.add_font("cjk", fname=str(font.path), collection_font_number=font.index)
    for n, face in enumerate(faces):
        slot = n % (COLUMNS * ROWS)
        if slot == 0:
            pdf.add_page()
        x = MARGIN + (slot % COLUMNS) * CARD_W
        y = MARGIN + (slot // COLUMNS) * CARD_H
        _pdf_card(pdf, face, x, y)
    return bytes(pdf.output())


def _pdf_card(pdf, face: CardFace, x: float, y: float) -> None:
    pdf.set_draw_color(170, 170, 170)
    with pdf.local_context():
        pdf.set_dash_pattern(dash=1.5, gap=1.5)
        pdf.rect(x, y, CARD_W, CARD_H)
    pdf.set_text_color(90, 90, 90)
    pdf.set_font("cjk", size=11)
    pdf.set_xy(x, y + 4)
    pdf.cell(CARD_W, 6, face.community, align="C")
    if face.wechat_qr is None:
        side = 50.0
        pdf.image(io.BytesIO(qr_png(face.link)), x=x + (CARD_W - side) / 2, y=y + 11, w=side, h=side)
    else:
        side = 40.0
        gap = (CARD_W - 2 * side) / 3
        pdf.image(io.BytesIO(qr_png(face.link)), x=x + gap, y=y + 13, w=side, h=side)
        pdf.image(io.BytesIO(face.wechat_qr), x=x + 2 * gap + side, y=y + 13, w=side, h=side)
        pdf.set_font("cjk", size=8)
        pdf.set_xy(x + gap, y + 53)
        pdf.cell(side, 4, "Telegram", align="C")
        pdf.set_xy(x + 2 * gap + side, y + 53)
        pdf.cell(side, 4, "微信扫码", align="C")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=20)
    pdf.set_xy(x, y + 62)
    pdf.cell(CARD_W, 10, face.title, align="C")
    pdf.set_text_color(200, 16, 46)   # 党建红
    pdf.set_font("cjk", size=14)
    pdf.set_xy(x, y + 73)
    pdf.cell(CARD_W, 7, TAGLINE, align="C")
    pdf.set_text_color(120, 120, 120)
    pdf.set_font("cjk", size=8)
    pdf.set_xy(x, y + 81)
    pdf.cell(CARD_W, 5, TAGLINE_EN, align="C")


# ---- the PNGs ----------------------------------------------------------------------------------

def _px(mm: float) -> int:
    return round(mm / 25.4 * PNG_DPI)


@functools.lru_cache(maxsize=16)
def _pillow_font(path: str, index: int, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, pixels, index=index)


def card_png(face: CardFace, font: CjkFont | None = None) -> bytes:
    """One card as a PNG at 300 dpi, the same layout as on the sheet."""
    font = font or find_font()

    def sized(points: float) -> ImageFont.FreeTypeFont:
        return _pillow_font(str(font.path), font.index, round(points / 72 * PNG_DPI))

    width, height = _px(CARD_W), _px(CARD_H)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(170, 170, 170), width=3)

    def centred(text: str, top_mm: float, points: float, fill, left_mm: float = 0, span_mm: float = CARD_W) -> None:
        f = sized(points)
        box = draw.textbbox((0, 0), text, font=f)
        left = _px(left_mm) + (_px(span_mm) - (box[2] - box[0])) // 2 - box[0]
        draw.text((left, _px(top_mm)), text, font=f, fill=fill)

    def paste(png: bytes, left_mm: float, top_mm: float, side_mm: float) -> None:
        qr = Image.open(io.BytesIO(png)).convert("RGB").resize((_px(side_mm), _px(side_mm)), Image.NEAREST)
        image.paste(qr, (_px(left_mm), _px(top_mm)))

    centred(face.community, 4.5, 11, (90, 90, 90))
    if face.wechat_qr is None:
        paste(qr_png(face.link), (CARD_W - 50) / 2, 11, 50)
    else:
        side, gap = 40.0, (CARD_W - 80) / 3
        paste(qr_png(face.link), gap, 13, side)
        paste(face.wechat_qr, 2 * gap + side, 13, side)
        centred("Telegram", 53.5, 8, (90, 90, 90), gap, side)
        centred("微信扫码", 53.5, 8, (90, 90, 90), 2 * gap + side, side)
    centred(face.title, 62.5, 20, (0, 0, 0))
    centred(TAGLINE, 73.5, 14, (200, 16, 46))
    centred(TAGLINE_EN, 81.5, 8, (120, 120, 120))
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(PNG_DPI, PNG_DPI))
    return out.getvalue()


def write_cards(faces: list[CardFace], out_dir: Path, font: CjkFont | None = None,
                pdf_name: str = "door-codes.pdf") -> list[Path]:
    """The sheet and a PNG per card into `out_dir`; the paths written, the PDF first."""
    font = font or find_font()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / pdf_name]
    written[0].write_bytes(cards_pdf(faces, font))
    for face in faces:
        path = out_dir / f"{face.file_stem}.png"
        path.write_bytes(card_png(face, font))
        written.append(path)
    return written
