"""Residents' photos: refused early, decoded small, upright, stripped of every piece of metadata,
kept once by content. All test images are made here with Pillow."""

from __future__ import annotations

import hashlib
import io
import os
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw

import media.photos as photos
from core.cases import PhotoKind, PhotoRef
from core.duplicates import hamming
from core.errors import DomainError
from media.photos import (BadPhotoName, HeicNotSupported, NotAPhoto, PhotoBroken, PhotoProblem, PhotoStore,
                          PhotoTooLarge, PhotoTooManyPixels, dhash, normalise, open_photo)

ROOT = Path(__file__).resolve().parent.parent
ORIENTATION, MAKE, GPS_IFD = 0x0112, 0x010F, 0x8825


# --- making pictures ---------------------------------------------------------------------------


def scene(width: int, height: int, seed: int = 1) -> Image.Image:
    """Something photo-like: gradients, noise and a few shapes, different for every seed."""
    rng = random.Random(seed)
    small = (max(1, width // 16), max(1, height // 16))
    # Gaussian noise around mid-grey as Image.effect_noise makes it, but from this seed: effect_noise
    # draws from C's rand(), so two scenes of one seed differed (their dHashes up to 4 bits apart)
    noise_rng, sigma = random.Random(f"noise {seed}"), 40 + seed % 20
    noise = Image.new("L", small)
    noise.putdata([min(255, max(0, round(noise_rng.gauss(128, sigma)))) for _ in range(small[0] * small[1])])
    noise = noise.resize((width, height), Image.Resampling.BILINEAR)
    gradient = Image.linear_gradient("L").resize((width, height))
    if seed % 2:
        gradient = gradient.rotate(90, expand=False)
    image = Image.merge("RGB", (noise, gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(width // 8, width // 2), y0 + rng.randrange(height // 8, height // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return image


def jpeg(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=options.pop("quality", 90), **options)
    return out.getvalue()


def png(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **options)
    return out.getvalue()


def exif_with_gps(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (39.0, 54.0, 20.0), 3: "E", 4: (116.0, 23.0, 30.0)})
    return exif


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, idat: bytes = zlib.compress(b"\x00" * 64)) -> bytes:
    """A PNG whose header claims width × height grey pixels, with whatever IDAT we give it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def zero_png_bomb(width: int, height: int) -> bytes:
    """A real decompression bomb: width × height black grey pixels, compressed to almost nothing."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return png_claiming(width, height, b"".join(parts))


# --- normalising -------------------------------------------------------------------------------


def test_exif_orientation_is_applied_and_every_piece_of_metadata_dropped():
    image = scene(800, 600)
    ImageDraw.Draw(image).rectangle((0, 0, 99, 99), fill=(255, 0, 0))   # a red mark at the top left
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = jpeg(image, exif=exif_with_gps(6).tobytes(), comment=b"taken at home, 3-2-501",
                xmp=b"<x:xmpmeta><GPSLatitude>39,54.3N</GPSLatitude></x:xmpmeta>", icc_profile=icc)
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(GPS_IFD)[2] == (39.0, 54.0, 20.0)   # the input really has a position

    result = normalise(data)

    assert (result.width, result.height) == (600, 800)                  # orientation 6: turned upright
    out = Image.open(io.BytesIO(result.jpeg))
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == (600, 800)
    assert dict(out.getexif()) == {}
    for key in ("exif", "xmp", "icc_profile", "comment"):
        assert key not in out.info
    for marker in (b"Exif", b"PhoneMaker", b"GPSLatitude", b"3-2-501", b"ICC_PROFILE", b"ns.adobe.com"):
        assert marker not in result.jpeg
    # Orientation 6 means "turn 90° clockwise to view": the top-left mark ends up top right.
    red = out.getpixel((out.width - 50, 50))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    assert out.getpixel((50, 50)) != red


def test_the_result_names_itself_and_is_the_same_every_time():
    data = jpeg(scene(640, 480))
    first, second = normalise(data), normalise(data)
    assert first.sha256 == hashlib.sha256(first.jpeg).hexdigest() == second.sha256
    assert first.jpeg == second.jpeg and first.dhash == second.dhash
    assert 0 <= first.dhash < 1 << 64
    ref = first.ref("before")
    assert ref == PhotoRef(first.sha256, PhotoKind.BEFORE, 640, 480, first.dhash)


def test_output_is_a_baseline_jpeg_as_cheap_to_make_as_plain_pillow():
    sent = jpeg(scene(640, 480), comment=b"needs cleaning")
    result = normalise(sent)
    out = Image.open(io.BytesIO(result.jpeg))
    assert not (out.info.get("progressive") or out.info.get("progression"))  # 5× cheaper to make
    plain, optimised = io.BytesIO(), io.BytesIO()
    open_photo(sent).save(plain, "JPEG", quality=82, subsampling="4:2:0")
    open_photo(sent).save(optimised, "JPEG", quality=82, subsampling="4:2:0", optimize=True)
    # standard Huffman tables: no second pass to optimise them (twice the CPU for ~3 % of the bytes)
    assert result.jpeg == plain.getvalue() and len(optimised.getvalue()) < len(result.jpeg)


@pytest.mark.parametrize("options", [{"quality": 87}, {"quality": 80, "progressive": True},
                                     {"quality": 85, "optimize": True, "restart_marker_blocks": 4}])
def test_a_clean_jpeg_as_telegram_sends_a_photo_is_kept_byte_for_byte(options):
    data = jpeg(scene(800, 600, seed=5), **options)
    result = normalise(data)
    assert result.jpeg == data                                  # no second encoding, no quality lost
    assert result.sha256 == hashlib.sha256(data).hexdigest() and (result.width, result.height) == (800, 600)
    assert hamming(result.dhash, normalise(jpeg(scene(800, 600, seed=5), comment=b"x")).dhash) <= 2
    assert normalise(memoryview(data)).jpeg == normalise(bytearray(data)).jpeg == data


def _with_jfif_thumbnail(data: bytes) -> bytes:
    """The same JPEG, its JFIF header carrying a 1×1 thumbnail (3 bytes of pixels)."""
    assert data[2:4] == b"\xff\xe0" and data[4:6] == b"\x00\x10"
    header = data[6:18] + b"\x01\x01" + b"\x80\x80\x80"
    return data[:4] + (2 + len(header)).to_bytes(2, "big") + header + data[20:]


@pytest.mark.parametrize("make", [
    lambda: jpeg(scene(800, 600), comment=b"3-2-501"),
    lambda: jpeg(scene(800, 600), exif=exif_with_gps(1).tobytes()),
    lambda: jpeg(scene(800, 600), icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()),
    lambda: jpeg(scene(800, 600)) + b"PK\x03\x04 a zip file hiding after the picture",
    lambda: _with_jfif_thumbnail(jpeg(scene(800, 600))),
    lambda: jpeg(scene(800, 600).convert("L")),
    lambda: jpeg(scene(800, 600), quality=100, subsampling="4:4:4"),   # far bigger than it needs to be
    lambda: jpeg(scene(1700, 1000)),
], ids=["comment", "exif", "icc", "trailing-bytes", "jfif-thumbnail", "grey", "oversized-file", "too-wide"])
def test_a_jpeg_that_could_carry_anything_else_is_encoded_again(make):
    data = make()
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    result = normalise(data)
    assert result.jpeg != data
    assert normalise(result.jpeg).jpeg == result.jpeg            # what we make is kept as it is
    out = Image.open(io.BytesIO(result.jpeg))
    assert out.mode == "RGB" and not ({"exif", "icc_profile", "comment"} & set(out.info))
    assert result.jpeg.endswith(b"\xff\xd9") and b"PK\x03\x04" not in result.jpeg


def test_a_12_megapixel_photo_comes_out_1600_by_1200():
    result = normalise(jpeg(scene(4000, 3000), quality=85))
    assert (result.width, result.height) == (1600, 1200)
    assert Image.open(io.BytesIO(result.jpeg)).size == (1600, 1200)
    assert len(result.jpeg) < 1_000_000


def test_portrait_and_small_photos_keep_their_shape():
    assert (normalise(jpeg(scene(1500, 4000))).width, normalise(jpeg(scene(1500, 4000))).height) == (600, 1600)
    small = normalise(jpeg(scene(320, 240)))
    assert (small.width, small.height) == (320, 240)                        # never enlarged


def test_transparent_png_is_flattened_on_white():
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))                  # transparent (black underneath)
    ImageDraw.Draw(image).rectangle((200, 0, 399, 299), fill=(200, 30, 30, 255))
    result = normalise(png(image))
    out = Image.open(io.BytesIO(result.jpeg))
    assert out.mode == "RGB" and out.size == (400, 300)
    assert min(out.getpixel((50, 150))) > 245                            # white, not black
    r, g, b = out.getpixel((300, 150))
    assert r > 180 and g < 60 and b < 60


def test_palette_png_with_transparency_and_16_bit_grey_png_and_cmyk_jpeg():
    palette = Image.new("P", (200, 100), 0)
    palette.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    ImageDraw.Draw(palette).rectangle((100, 0, 199, 99), fill=1)
    out = Image.open(io.BytesIO(normalise(png(palette, transparency=0)).jpeg))
    assert min(out.getpixel((20, 50))) > 245 and out.getpixel((150, 50))[1] > 150

    grey16 = Image.linear_gradient("L").resize((256, 256)).convert("I").point(lambda v: v * 256).convert("I;16")
    out = Image.open(io.BytesIO(normalise(png(grey16)).jpeg))
    assert out.mode == "RGB" and out.getpixel((10, 5))[0] < 20 and out.getpixel((10, 250))[0] > 230

    cmyk = scene(300, 200).convert("CMYK")
    out = Image.open(io.BytesIO(normalise(jpeg(cmyk)).jpeg))
    assert out.mode == "RGB" and out.size == (300, 200)


def test_webp_is_taken():
    out = io.BytesIO()
    scene(500, 400).save(out, "WEBP", quality=80)
    assert (normalise(out.getvalue()).width, normalise(out.getvalue()).height) == (500, 400)


def test_more_than_max_bytes_is_refused_before_decoding(monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a file that was too large")

    monkeypatch.setattr(photos.Image, "open", no_decoding)
    blob = b"\xff\xd8\xff\xe0" + b"\x00" * (21 * 1024 * 1024)
    with pytest.raises(PhotoTooLarge) as refused:
        normalise(blob)
    assert refused.value.key == "photo.too_large" and refused.value.params == {"max_mb": 20}
    assert isinstance(refused.value, DomainError)


@pytest.mark.parametrize("data", [os.urandom(5000), b"", b"%PDF-1.7 not a picture", b"\x89PNG\r\n\x1a\n"[:4]])
def test_what_is_not_a_picture_is_not_a_photo(data):
    with pytest.raises(NotAPhoto) as refused:
        normalise(data)
    assert refused.value.key == "photo.not_an_image"


def test_a_picture_format_we_do_not_take_is_named():
    out = io.BytesIO()
    scene(100, 100).save(out, "GIF")
    with pytest.raises(NotAPhoto) as refused:
        normalise(out.getvalue())
    assert refused.value.params == {"format": "GIF"}


def test_heic_from_an_iphone_gets_its_own_hint():
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + os.urandom(200)
    with pytest.raises(HeicNotSupported) as refused:
        normalise(heic)
    assert isinstance(refused.value, NotAPhoto)
    assert refused.value.key == "photo.heic_not_supported" and refused.value.params == {"format": "HEIC"}


@pytest.mark.parametrize("make", [
    lambda: jpeg(scene(800, 600))[:6000],                         # truncated JPEG
    lambda: png(scene(300, 200))[:2000],                          # truncated PNG
    lambda: jpeg(scene(400, 300))[:400] + os.urandom(20000),      # a header, then garbage
])
def test_broken_files_are_broken(make):
    with pytest.raises(PhotoBroken) as refused:
        normalise(make())
    assert refused.value.key == "photo.broken"


@pytest.mark.parametrize("width, height", [
    (30000, 30000),   # beyond twice Pillow's own limit: its DecompressionBombError
    (10000, 10000),   # between Pillow's limit and twice it: its warning, turned into an error
    (8000, 8000),     # 64 MP, below Pillow's limit: our 60-megapixel limit
])
def test_a_header_claiming_too_many_pixels_is_a_bomb(width, height):
    with pytest.raises(PhotoTooManyPixels) as refused:
        normalise(png_claiming(width, height))
    assert refused.value.key == "photo.too_many_pixels" and refused.value.params == {"max_mp": 60}


def test_the_pixel_limit_is_configurable():
    data = png(scene(400, 300))
    with pytest.raises(PhotoTooManyPixels) as refused:
        normalise(data, max_pixels=100_000)
    assert refused.value.params == {"max_mp": 1}
    assert normalise(data, max_pixels=120_000).width == 400


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc (Linux)")
def test_a_real_decompression_bomb_is_refused_without_using_memory(tmp_path):
    bomb = zero_png_bomb(8000, 8000)            # 64 MB of pixels in ~60 KB
    assert len(bomb) < 200_000
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    # A fresh process, and its VmHWM: ru_maxrss would start at pytest's own high-water mark.
    script = (
        "import json, sys\n"
        "from media.photos import normalise, PhotoTooManyPixels\n"
        "def peak():\n"
        "    return int([l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1])\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = peak()\n"
        "try:\n"
        "    normalise(data, **json.loads(sys.argv[2]))\n"
        "    print('decoded', peak() - before)\n"
        "except PhotoTooManyPixels:\n"
        "    print('refused', peak() - before)\n"
    )

    def run(limits: str) -> tuple[str, int]:
        done = subprocess.run([sys.executable, "-c", script, str(path), limits], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=True)
        verdict, grown_kb = done.stdout.split()
        return verdict, int(grown_kb)

    verdict, grown_kb = run("{}")
    assert verdict == "refused"
    assert grown_kb < 20_000, f"refusing the bomb took {grown_kb} kB"
    # Without the limits the same file really takes its 64 MB: the measurement can see it.
    verdict, grown_kb = run('{"max_pixels": 1000000000, "max_decode_bytes": 10000000000}')
    assert verdict == "decoded" and grown_kb > 60_000


def test_files_that_cannot_be_decoded_reduced_are_limited_by_memory():
    """A progressive JPEG keeps every full-size coefficient while decoding: it costs more than a
    baseline one of the same size, and above the budget it is refused instead of decoded."""
    image = scene(2000, 1500)
    baseline, progressive = jpeg(image), jpeg(image, progressive=True)
    budget = 36 * 1024 * 1024   # baseline: ~33 MB by our estimate; progressive: ~42 MB
    assert normalise(baseline, max_decode_bytes=budget).width == 1600
    with pytest.raises(PhotoTooManyPixels):
        normalise(progressive, max_decode_bytes=budget)
    assert normalise(progressive).width == 1600   # the default budget takes it


def test_problems_are_domain_errors_with_text_keys():
    keys = {cls.key for cls in (PhotoTooLarge, NotAPhoto, HeicNotSupported, PhotoBroken, PhotoTooManyPixels)}
    assert keys == {"photo.too_large", "photo.not_an_image", "photo.heic_not_supported", "photo.broken",
                    "photo.too_many_pixels"}
    assert all(issubclass(cls, PhotoProblem) and issubclass(cls, DomainError)
               for cls in (PhotoTooLarge, NotAPhoto, HeicNotSupported, PhotoBroken, PhotoTooManyPixels))


# --- the difference hash -----------------------------------------------------------------------


def test_dhash_survives_resizing_and_recompression_and_tells_photos_apart():
    original = normalise(jpeg(scene(3000, 2000, seed=3)))
    decoded = Image.open(io.BytesIO(original.jpeg))
    assert dhash(decoded) == original.dhash or hamming(dhash(decoded), original.dhash) <= 2

    smaller = jpeg(decoded.resize((640, 427), Image.Resampling.BILINEAR), quality=45)
    assert hamming(normalise(smaller).dhash, original.dhash) <= 6
    as_png = png(decoded.resize((1000, 667)))
    assert hamming(normalise(as_png).dhash, original.dhash) <= 6
    brighter = jpeg(decoded.point(lambda v: min(255, v + 12)), quality=70)
    assert hamming(normalise(brighter).dhash, original.dhash) <= 6

    for seed in (4, 5, 6):
        other = normalise(jpeg(scene(3000, 2000, seed=seed)))
        assert hamming(other.dhash, original.dhash) > 16


def test_dhash_is_64_bits_of_left_brighter_than_right():
    left_bright = Image.linear_gradient("L").rotate(90).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    # The gradient rises to the left: every left neighbour is brighter, all 64 bits set.
    assert dhash(left_bright.resize((90, 80))) == (1 << 64) - 1
    assert dhash(Image.new("RGB", (90, 80), (128, 128, 128))) == 0
    assert dhash(left_bright.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) == 0


# --- the store ---------------------------------------------------------------------------------


async def test_the_same_photo_saved_twice_is_one_file(tmp_path):
    store = PhotoStore(tmp_path)
    data = jpeg(scene(1200, 900), exif=exif_with_gps(6).tobytes())
    first = await store.save(data)
    second = await store.save(data)
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [tmp_path / "photos" / first.sha256[:2] / f"{first.sha256}.jpg"]
    assert store.path(first.sha256) == files[0]
    assert store.exists(first.sha256)
    assert await store.load(first.sha256) == first.jpeg
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == first.sha256


async def test_different_photos_are_different_files_and_nothing_is_left_half_written(tmp_path):
    store = PhotoStore(tmp_path)
    saved = [await store.save(jpeg(scene(400, 300, seed=seed))) for seed in range(4)]
    assert len({p.sha256 for p in saved}) == 4
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(f"{p.sha256}.jpg" for p in saved)


async def test_a_refused_photo_leaves_nothing_behind(tmp_path):
    store = PhotoStore(tmp_path)
    with pytest.raises(NotAPhoto):
        await store.save(b"not a photo at all")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_unknown_photo_is_not_found(tmp_path):
    store = PhotoStore(tmp_path)
    assert not store.exists("0" * 64)
    with pytest.raises(FileNotFoundError):
        await store.load("0" * 64)


@pytest.mark.parametrize("name", [
    "../../etc/passwd", "../" + "a" * 61, "a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 64 + "/..",
    "/" + "a" * 63, "", "a" * 62 + "\n", None, 123,
])
async def test_a_name_that_is_not_a_sha256_is_never_a_path(tmp_path, name):
    store = PhotoStore(tmp_path)
    with pytest.raises(BadPhotoName):
        store.path(name)
    with pytest.raises(BadPhotoName):
        store.exists(name)
    with pytest.raises(BadPhotoName):
        await store.load(name)


async def test_store_limits_are_its_own(tmp_path):
    store = PhotoStore(tmp_path, max_bytes=1000)
    with pytest.raises(PhotoTooLarge) as refused:
        await store.save(jpeg(scene(400, 300)))
    assert refused.value.params == {"max_mb": 1}
    small_side = PhotoStore(tmp_path, max_side=200)
    saved = await small_side.save(jpeg(scene(400, 300)))
    assert (saved.width, saved.height) == (200, 150)


async def test_the_same_photo_saved_at_the_same_time_is_still_one_file(tmp_path):
    import asyncio

    store = PhotoStore(tmp_path, max_concurrent=4)
    data = jpeg(scene(800, 600))
    saved = await asyncio.gather(*(store.save(data) for _ in range(6)))
    assert len({p.sha256 for p in saved}) == 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{saved[0].sha256}.jpg"]
