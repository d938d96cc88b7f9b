"""Residents' photos: check them, clean them, keep them once.

`normalise` turns whatever a resident sent (a Telegram photo, or a file) into one small,
upright JPEG that says nothing about where or with what it was taken:

* refused before decoding: more than `max_bytes`; not JPEG, PNG or WebP (HEIC/HEIF, which an
  iPhone sends as a file, gets its own hint: `HeicNotSupported`); a header claiming more than
  `max_pixels` (decompression bombs — Pillow's own bomb warning is turned into an error too);
* decoded small: a big JPEG is decoded already reduced (`Image.draft`, 1/2, 1/4 or 1/8 scale
  in libjpeg), so a 50-megapixel photo never exists in memory at full size;
* upright (EXIF orientation applied), RGB (transparency flattened on white), colours
  converted to sRGB when the photo carries an ICC profile, at most `max_side` px on the long side;
* saved as a baseline JPEG (quality 82, standard Huffman tables) with NO metadata at all: no EXIF (so
  no GPS position, no phone model, no time), no XMP, no ICC profile (the pixels are sRGB, which
  is what a JPEG without a profile means), no comment;
* unless it already is such a JPEG: a colour JPEG of at most `max_side` px, that decodes, whose
  only segment besides the picture itself is a bare JFIF header and that ends where its picture
  ends, is kept byte for byte (`_clean_as_sent`). That is what Telegram's servers make of a photo
  sent as a photo (they re-encode it and drop its metadata); encoding it again would lose quality
  and cost ~3 ms of CPU per 800×600 photo with the interpreter lock held (Pillow's JPEG encoder
  does not release it, its decoder does).

The photo is named by the SHA-256 of that normalised JPEG, so the same picture sent twice
is one file, and it carries a 64-bit difference hash (`dhash`) for "looks the same" checks
(`core.duplicates`).

Memory: a baseline JPEG (what cameras write) costs 4 bytes per pixel of its reduced
size, so a 50-megapixel photo from a phone needs about 10 MB of pixels (peak RSS of the whole
process: see `bench/photos.py`). What cannot be decoded reduced — PNG, WebP, and progressive
JPEGs, whose decoder keeps all full-size DCT coefficients — is estimated before decoding and
refused as `PhotoTooManyPixels` above `max_decode_bytes` (96 MiB: about 24 MP for a
progressive 4:2:0 JPEG, 16 MP for an RGB PNG, 9 MP for RGBA, 5 MP for WebP; the estimates
are on the safe side), so no accepted file takes the process much above 150 MB. The bot can
then say "send it as a photo, not as a file": Telegram shrinks photos to at most 2560 px.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from core.cases import Actor, Case, PhotoKind, PhotoRef
from core.disclosure import PhotoShown, photo_disclosure
from core.errors import DomainError

MAX_BYTES = 20 * 1024 * 1024
MAX_SIDE = 1600
MAX_PIXELS = 60_000_000
# What the decoder may hold at once, by our estimate (see _decode_cost).
MAX_DECODE_BYTES = 96 * 1024 * 1024
JPEG_QUALITY = 82
# What we decode. Everything else is refused before a decoder sees it (less attack surface).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# ISO-BMFF brands of HEIF/HEIC files (iPhones, many Android phones when sent as a file).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_WHITE = (255, 255, 255)


# --- errors: each a text key the channel turns into a polite reply -------------------------


class PhotoProblem(DomainError):
    """The file cannot be used as a photo."""

    key = "photo.broken"


class PhotoTooLarge(PhotoProblem):
    """More bytes than we accept (params: max_mb)."""

    key = "photo.too_large"


class NotAPhoto(PhotoProblem):
    """Not a JPEG, PNG or WebP picture (params: format, when it was recognised)."""

    key = "photo.not_an_image"


class HeicNotSupported(NotAPhoto):
    """An iPhone/Android HEIC file sent as a document: send it as a photo instead (params: format)."""

    key = "photo.heic_not_supported"


class PhotoBroken(PhotoProblem):
    """It looks like a picture but cannot be decoded (truncated, corrupt)."""

    key = "photo.broken"


class PhotoTooManyPixels(PhotoProblem):
    """The header claims more pixels than we decode: a decompression bomb (params: max_mp)."""

    key = "photo.too_many_pixels"


class BadPhotoName(ValueError):
    """A photo name that is not a SHA-256 in lowercase hex: never turned into a path."""


# --- normalising -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NormalisedPhoto:
    jpeg: bytes
    width: int
    height: int
    sha256: str         # of `jpeg`, lowercase hex: the photo's name everywhere
    dhash: int          # 64-bit difference hash, unsigned

    def ref(self, kind: PhotoKind | str) -> PhotoRef:
        """The domain's handle on this photo, as `core.cases` keeps it."""
        return PhotoRef(self.sha256, PhotoKind(kind), self.width, self.height, self.dhash)


def normalise(data: bytes, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE,
              max_pixels: int = MAX_PIXELS, max_decode_bytes: int = MAX_DECODE_BYTES,
              quality: int = JPEG_QUALITY) -> NormalisedPhoto:
    """A resident's upload as a clean JPEG (see the module doc); raises a `PhotoProblem`."""
    image = open_photo(data, max_bytes=max_bytes, max_side=max_side, max_pixels=max_pixels,
                       max_decode_bytes=max_decode_bytes)
    data = bytes(data)  # the same object when it is bytes already
    jpeg = data if _clean_as_sent(data, image.size) else encode_jpeg(image, quality=quality)
    return NormalisedPhoto(jpeg=jpeg, width=image.width, height=image.height,
                           sha256=hashlib.sha256(jpeg).hexdigest(), dhash=dhash(image))


def open_photo(data: bytes, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE,
               max_pixels: int = MAX_PIXELS, max_decode_bytes: int = MAX_DECODE_BYTES) -> Image.Image:
    """Decode, check, shrink and orient: an RGB image of at most `max_side` px, in sRGB.

    The card uses this too, so every picture shown anywhere went through the same checks.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("photo data must be bytes")
    if len(data) > max_bytes:
        raise PhotoTooLarge(max_mb=max(1, round(max_bytes / (1024 * 1024))))
    if len(data) == 0:
        raise NotAPhoto()
    data = bytes(data)
    if _is_heif(data):
        raise HeicNotSupported(format="HEIC")
    # Pillow's bomb check warns above Image.MAX_IMAGE_PIXELS and raises above twice that; the
    # warning becomes an error here. Our own limits below do not depend on it (warnings filters
    # are process-global, and another thread may be changing them): they always run.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoTooManyPixels(max_mp=_mp(max_pixels)) from exc
        except UnidentifiedImageError as exc:
            if _has_accepted_signature(data):  # starts like a JPEG, PNG or WebP: damaged on the way
                raise PhotoBroken() from exc
            raise NotAPhoto(**_recognised_format(data)) from exc
        except Exception as exc:  # noqa: BLE001 - a decoder's complaint about bytes from a stranger
            raise PhotoBroken() from exc
        with image:
            width, height = image.size
            if width < 1 or height < 1:
                raise PhotoBroken()
            if width * height > max_pixels:
                raise PhotoTooManyPixels(max_mp=_mp(max_pixels))
            try:
                if image.format == "JPEG":
                    # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the size we want.
                    image.draft("RGB", _fit((width, height), max_side))
                cost = _decode_cost(image, (width, height), max_side)
                if cost > max_decode_bytes:  # e.g. a huge progressive JPEG, a huge PNG
                    output = 8 * max_side * max_side
                    affordable = max(0, max_decode_bytes - output) * width * height // max(1, cost - output)
                    raise PhotoTooManyPixels(max_mp=min(_mp(max_pixels), _mp(affordable)))
                image.load()
                return _clean(image, max_side)
            except PhotoProblem:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
                raise PhotoTooManyPixels(max_mp=_mp(max_pixels)) from exc
            except Exception as exc:  # noqa: BLE001 - truncated, corrupt, or a decoder bug
                raise PhotoBroken() from exc


def encode_jpeg(image: Image.Image, *, quality: int = JPEG_QUALITY) -> bytes:
    """A baseline JPEG with no metadata at all (no EXIF, XMP, ICC or comment).

    Not progressive: that took 5× the CPU (11 against 4 ms for an 800×600 photo, 41 against ~10
    for 1600×1200) for the same size within 1 %, and a baseline JPEG decodes in less memory when
    the card or a page opens it again. Not `optimize`d either: the second pass that builds Huffman
    tables for the picture took 18 against 8 ms for 1600×1200 to save 3 % of the bytes.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    kept, image.info = image.info, {}  # JPEG save copies a comment (and maybe more) from `info`
    try:
        image.save(out, "JPEG", quality=quality, subsampling="4:2:0")
    finally:
        image.info = kept
    return out.getvalue()


# Markers a kept JPEG may have besides its bare JFIF header: frames (baseline, extended, progressive;
# 8-bit Huffman), quantisation and Huffman tables, restart interval, scans. Everything else (APP1–15:
# EXIF, XMP, ICC, Adobe, MPF; COM; arithmetic coding; DNL …) means "encode it ourselves".
_SOF_KEPT = {0xC0, 0xC1, 0xC2}
_TABLES = {0xC4, 0xDB, 0xDD}
_SOS, _EOI, _APP0 = 0xDA, 0xD9, 0xE0
_BARE_JFIF_LENGTH = 16  # "JFIF\0", version, units, densities, and a 0×0 thumbnail
# A kept JPEG is at most this big for its pixels: Telegram's photos are 0.1–0.25 bytes a pixel.
KEEP_MAX_BYTES_PER_PIXEL = 0.4


def _clean_as_sent(data: bytes, size: tuple[int, int]) -> bool:
    """Whether `data`, which decoded to an RGB image of `size`, is already what `normalise` makes.

    Walks the JPEG's segments (the entropy-coded data between them byte by byte, as the format
    defines: 0xFF there is followed by 0x00 or a restart marker); any segment that could carry
    metadata, or any byte after the end-of-image marker, and the photo is encoded again.
    """
    width, height = size
    if len(data) > KEEP_MAX_BYTES_PER_PIXEL * width * height or not data.startswith(b"\xff\xd8"):
        return False
    end, pos, frame = len(data), 2, None
    while pos + 1 < end:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == _EOI:
            return pos + 2 == end and frame == (8, height, width, 3)
        if pos + 4 > end:
            return False
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        body = data[pos + 4:pos + 2 + length]
        if length < 2 or pos + 2 + length > end:
            return False
        if marker == _APP0:
            if length != _BARE_JFIF_LENGTH or not body.startswith(b"JFIF\0") or body[12:14] != b"\0\0":
                return False
        elif marker in _SOF_KEPT:
            if frame is not None or len(body) < 6:
                return False
            frame = (body[0], int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big"), body[5])
        elif marker not in _TABLES and marker != _SOS:
            return False
        pos += 2 + length
        if marker == _SOS:  # entropy-coded data up to the next real marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= end:
                    return False
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2
                elif following == 0xFF:
                    pos += 1
                else:
                    break
    return False


def dhash(image: Image.Image) -> int:
    """64-bit difference hash: grey 9×8, one bit per pair of neighbours (left brighter than right).

    Row by row from the top left, most significant bit first. Resizing and recompressing move
    it by a few bits at most; a different picture lands about 32 bits away.
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = _flatten(image)
    grey = image.convert("L")
    if grey.width > 9 * 16:  # two steps: a cheap box average, then a careful filter
        grey = grey.reduce(max(1, min(grey.width // (9 * 8), grey.height // (8 * 8), 255)))
    small = grey.resize((9, 8), Image.Resampling.LANCZOS)
    px = small.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col] > px[row * 9 + col + 1])
    return bits


def _clean(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink first (cheap on memory), then turn upright, flatten, convert to sRGB and RGB."""
    icc = image.info.get("icc_profile")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "PA":
        image = image.convert("RGBA")
    elif image.mode.startswith("I;16") or image.mode in ("I", "F"):
        image = _to_8bit(image)
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        image = image.convert("RGB")
    target = _fit(image.size, max_side)
    if target != image.size:
        # A box average by a whole factor first: cheap, and no full-size premultiplied copy of an
        # RGBA image; then bicubic for the last step (at most 2× down after the draft or the box:
        # Lanczos took 70 against 50 ms on a 12 MP photo, and the difference is not visible at
        # that ratio). Both keep `info` (the EXIF orientation).
        factor = min(image.width // target[0], image.height // target[1])
        if factor >= 2:
            image = image.reduce(factor)
        image = image.resize(target, Image.Resampling.BICUBIC)
    try:
        image = ImageOps.exif_transpose(image)  # always a new image: the caller closes the file
    except Exception:  # noqa: BLE001 - unreadable EXIF: keep the pixels as they are
        image = image.copy()
    if image.mode in ("RGBA", "LA"):
        image = _flatten(image)
    if icc:
        image = _to_srgb(image, icc)
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.info = {}
    return image


def _decode_cost(image: Image.Image, full_size: tuple[int, int], max_side: int) -> int:
    """Bytes that decoding and `_clean` hold at once, by estimate, for an opened (and drafted) image.

    Pillow keeps 4 bytes per pixel for every mode with more than one band (RGB too). A baseline
    JPEG decodes straight into the reduced image. A progressive JPEG keeps every DCT coefficient
    of the full-size picture (2 bytes each) until its last scan, however small the output: that
    is what makes a 50-megapixel progressive JPEG expensive. PNG and WebP are decoded at full
    size; palette and 16-bit images get a converted full-size copy, transparent ones a
    premultiplied copy when they are reduced; WebP passes through two buffers before Pillow's.
    The box-reduced copy costs at most a quarter more; the last resize two images of the output.
    """
    full = full_size[0] * full_size[1]
    decoded = image.size[0] * image.size[1]
    output = 2 * 4 * max_side * max_side
    bands = image.getbands()
    stored = 4 if len(bands) > 1 or image.mode in ("I", "F") else 1
    if image.format == "JPEG":
        cost = decoded * stored
        if image.info.get("progressive") or image.info.get("progression"):
            layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * len(bands)
            hmax = max(h for _, h, _, _ in layers)
            vmax = max(v for _, _, v, _ in layers)
            cost += int(full * 2 * sum(h * v for _, h, v, _ in layers) / (hmax * vmax))
        return cost + output
    if image.mode == "P":
        per_pixel = 1 + 4 + (4 if "transparency" in image.info else 0)
    elif image.mode.startswith("I;16"):
        per_pixel = 2 + 4 + 1
    elif "A" in bands:
        per_pixel = 4 + 4
    else:
        per_pixel = stored
    if image.format == "WEBP":
        per_pixel += 12  # libwebp's canvas, the bytes handed to Python, then Pillow's image
    return int(decoded * (per_pixel + 1)) + output


def _flatten(image: Image.Image) -> Image.Image:
    """Transparency on white: screenshots and stickers look as they did in the chat."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit or 32-bit grey (some PNGs) to 8-bit grey, scaled by its own range."""
    wide = image.convert("I") if image.mode != "F" else image
    low, high = wide.getextrema()
    if high <= 255 and low >= 0:
        return wide.convert("L")
    span = max(1, high - low)
    return wide.point(lambda v: (v - low) * 255 / span).convert("L")


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Colours as the camera meant them (Display P3 on iPhones, Adobe RGB …), in sRGB."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
    except Exception:  # noqa: BLE001 - a broken or mismatched profile: the pixels are still fine
        return image


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    longest = max(width, height)
    if longest <= max_side:
        return size
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _is_heif(data: bytes) -> bool:
    if len(data) < 12 or data[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(data[0:4], "big")
    brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(box_size, len(data), 64), 4)}
    return bool(brands & _HEIF_BRANDS) and b"avif" not in brands


def _has_accepted_signature(data: bytes) -> bool:
    return (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"))


def _recognised_format(data: bytes) -> dict[str, str]:
    """Name a picture format we do not take, so the reply can say which."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as other:
                return {"format": str(other.format)}
    except Exception:  # noqa: BLE001
        return {}


def _mp(pixels: int) -> int:
    return max(1, round(pixels / 1_000_000))


# --- keeping -----------------------------------------------------------------------------------


class PhotoStore:
    """Normalised photos on disk, named by content: `root/photos/ab/abcdef….jpg`.

    Files are written to a temporary name in the same folder, flushed to disk and renamed, so a
    reader never sees half a photo; the same photo saved twice is one file. Files are created
    readable by the bot's user only (mode 0600): they are residents' personal information.

    Beside each photo, once someone who may not see the original asks for it, its copy with faces
    blurred (media/faces.py): `root/blurred/ab/abcdef….jpg`, named by the original's SHA-256, made once
    (a hard link to the original when no face was found) and removed with the original.
    """

    def __init__(self, root: Path | str, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE,
                 max_pixels: int = MAX_PIXELS, max_decode_bytes: int = MAX_DECODE_BYTES,
                 max_concurrent: int = 2) -> None:
        self.root = Path(root)
        self.folder = self.root / "photos"
        self._limits = {"max_bytes": max_bytes, "max_side": max_side, "max_pixels": max_pixels,
                        "max_decode_bytes": max_decode_bytes}
        # Decoding is CPU and memory: a burst of uploads waits instead of decoding all at once.
        self._decoding = asyncio.Semaphore(max_concurrent)

    def path(self, sha256: str) -> Path:
        """Where the photo named `sha256` lives; anything but 64 lowercase hex digits is refused."""
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise BadPhotoName(f"not a photo name: {sha256!r}")
        return self.folder / sha256[:2] / f"{sha256}.jpg"

    def blurred_path(self, sha256: str) -> Path:
        """Where the copy of photo `sha256` with its faces blurred is kept (once made)."""
        return self.root / "blurred" / self.path(sha256).relative_to(self.folder)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    async def save(self, data: bytes) -> NormalisedPhoto:
        """Normalise (in a worker thread: decoding is CPU work) and keep; raises a `PhotoProblem`."""
        async with self._decoding:
            photo = await asyncio.to_thread(normalise, data, **self._limits)
        await asyncio.to_thread(self._write, photo)
        return photo

    async def load(self, sha256: str) -> bytes:
        """The normalised JPEG; FileNotFoundError when it was never saved here."""
        return await asyncio.to_thread(self.path(sha256).read_bytes)

    async def load_for(self, viewer: Actor | None, case: Case, photo: PhotoRef) -> bytes:
        """`photo` of `case` as `viewer` may see it (core.disclosure.photo_disclosure): what every
        channel sends a person, so nobody but the handler, staff and the photo's author sees faces."""
        return await self.load_shown(photo.sha256, photo_disclosure(viewer, case, photo))

    async def load_shown(self, sha256: str, shown: PhotoShown | str) -> bytes:
        """The photo as core.disclosure.photo_disclosure says this viewer sees it: the original, or
        the copy with faces blurred (made now if it was never asked for, then kept)."""
        if PhotoShown(shown) == PhotoShown.ORIGINAL:
            return await self.load(sha256)
        target = self.blurred_path(sha256)
        try:
            return await asyncio.to_thread(target.read_bytes)
        except FileNotFoundError:
            pass
        original = await self.load(sha256)
        from media.faces import blurred_jpeg

        async with self._decoding:  # CPU, as decoding an upload
            blurred = await asyncio.to_thread(blurred_jpeg, original)
        await asyncio.to_thread(self._keep_blurred, sha256, blurred)
        return original if blurred is None else blurred

    def _keep_blurred(self, sha256: str, blurred: bytes | None) -> None:
        target = self.blurred_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if blurred is None:  # no face: the original is what everyone sees
            try:
                os.link(self.path(sha256), target)
                return
            except FileExistsError:
                return
            except OSError:  # a file system without hard links: a copy
                blurred = self.path(sha256).read_bytes()
        _write_atomically(target, blurred)

    def stored(self) -> Iterator[tuple[str, float]]:
        """(name, last modified as a POSIX timestamp) of every photo kept here."""
        if not self.folder.is_dir():
            return
        for path in self.folder.glob("??/*.jpg"):
            name = path.stem
            if _SHA256.fullmatch(name):
                try:
                    yield name, path.stat().st_mtime
                except FileNotFoundError:
                    continue

    def remove_unnamed(self, in_use: set[str], modified_before: float) -> int:
        """Delete the photos that nothing names (`in_use`) and that were not saved (or sent again)
        since `modified_before` (a POSIX timestamp): a photo in a dialog still open stays. The count."""
        removed = 0
        for name, modified in list(self.stored()):
            if name in in_use or modified >= modified_before:
                continue
            try:
                self.path(name).unlink()
                removed += 1
            except FileNotFoundError:
                pass
            _unlink(self.blurred_path(name))
        return removed

    async def remove(self, sha256s) -> int:
        """Delete these photos' files (a forgotten person's: core.personal_data_services); returns how many
        were there. A name that is not a photo's is refused, so nothing else can be deleted through it."""
        paths = [(self.path(h), self.blurred_path(h)) for h in sha256s]

        def unlink() -> int:
            removed = 0
            for path, blurred in paths:
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
                _unlink(blurred)
            return removed

        return await asyncio.to_thread(unlink)

    def _write(self, photo: NormalisedPhoto) -> None:
        target = self.path(photo.sha256)
        if target.is_file():
            # sent again: the retention job must not take it away from the dialog it is in now
            try:
                os.utime(target)
                return
            except FileNotFoundError:  # removed in between: written anew below
                pass
        _write_atomically(target, photo.jpeg)


def _write_atomically(target: Path, data: bytes) -> None:
    """Written to a temporary name in the same folder, flushed and renamed: never half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (the database will soon name this file)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
