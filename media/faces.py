"""Faces blurred (人脸打码): neighbours caught in a stairwell photo are not shown to other neighbours.

`detect_faces` finds frontal faces with OpenCV's Haar cascade (`haarcascade_frontalface_default.xml`,
shipped inside the `opencv-python-headless` wheel as `cv2.data.haarcascades`: nothing is downloaded
at run time). It looks at a grey copy of at most `DETECT_SIDE` px on the long side (a 12 MP photo is
detected at 800×600; the stored photos are at most 1600 px) and maps the boxes back to the image.

`blur_regions` covers each box, grown by `GROW` on every side (hair, ears, chin), with a coarse
pixelation (about `BLOCKS` blocks across the face) smoothed by a Gaussian: nothing of a face
survives, and the rest of the picture is left pixel for pixel as it was.

`blurred_jpeg` does both for a stored photo: the JPEG with faces blurred, or None when it found no
face (the original is then shown as it is). Who sees which is core.disclosure.photo_disclosure's
decision; media.photos.PhotoStore keeps the blurred copy beside the original, made once.

Limits (measured in bench/photos.py, said in the README): the cascade finds faces seen from the
front, about 20 px wide and up in the detection copy (≈ 1/40 of the photo's long side); it misses
profiles, faces turned or tilted more than ~20°, faces under masks or in deep shadow, and now and
then takes a patterned surface for a face (a blurred patch of wall: harmless).
"""

from __future__ import annotations

import io
import threading
from typing import Sequence

from PIL import Image, ImageFilter

Box = tuple[int, int, int, int]  # left, top, width, height in the image's pixels

DETECT_SIDE = 800       # long side of the grey copy the cascade looks at
MIN_FACE = 20           # px in the detection copy: the cascade's own window is 24×24
SCALE_FACTOR = 1.1
MIN_NEIGHBOURS = 5      # fewer: more faces and more false alarms
GROW = 0.25             # each box grows by this much of its size on every side
BLOCKS = 8              # about this many pixel blocks across a blurred face
BLURRED_QUALITY = 90    # the blurred copy is encoded once more: a little higher, so the rest barely moves
CASCADE = "haarcascade_frontalface_default.xml"

_local = threading.local()  # a cascade per thread: detectMultiScale is not promised to be thread-safe


def _cascade():
    import cv2

    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        if cascade.empty():  # pragma: no cover - a broken OpenCV install
            raise RuntimeError(f"OpenCV's {CASCADE} could not be loaded from {cv2.data.haarcascades}")
        _local.cascade = cascade
    return cascade


def detect_faces(image: Image.Image, *, detect_side: int = DETECT_SIDE, min_neighbours: int = MIN_NEIGHBOURS,
                 min_face: int = MIN_FACE) -> list[Box]:
    """Frontal faces in `image`, as boxes in its own pixels (see the module doc)."""
    import cv2
    import numpy as np

    grey = image.convert("L")
    scale = min(1.0, detect_side / max(grey.size))
    if scale < 1.0:
        small = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        factor = min(grey.width // small[0], grey.height // small[1])
        if factor >= 2:
            grey = grey.reduce(factor)  # a cheap box average first, as media.photos does
        grey = grey.resize(small, Image.Resampling.BILINEAR)
    pixels = cv2.equalizeHist(np.asarray(grey, dtype=np.uint8))
    found = _cascade().detectMultiScale(pixels, scaleFactor=SCALE_FACTOR, minNeighbors=min_neighbours,
                                        minSize=(min_face, min_face))
    back = image.width / grey.width
    return [(round(x * back), round(y * back), round(w * back), round(h * back)) for (x, y, w, h) in found]


def grown(box: Box, size: tuple[int, int], grow: float = GROW) -> Box:
    """`box` grown by `grow` of its size on every side, within an image of `size`."""
    x, y, w, h = box
    dx, dy = round(w * grow), round(h * grow)
    left, top = max(0, x - dx), max(0, y - dy)
    right, bottom = min(size[0], x + w + dx), min(size[1], y + h + dy)
    return left, top, max(0, right - left), max(0, bottom - top)


def blur_regions(image: Image.Image, boxes: Sequence[Box], *, grow: float = GROW) -> Image.Image:
    """A copy of `image` with every box (grown) pixelated and smoothed; outside them, the same pixels."""
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    for box in boxes:
        left, top, w, h = grown(box, out.size, grow)
        if w < 2 or h < 2:
            continue
        area = (left, top, left + w, top + h)
        patch = out.crop(area)
        block = max(2, max(w, h) // BLOCKS)
        coarse = patch.resize((max(1, w // block), max(1, h // block)), Image.Resampling.BOX)
        patch = coarse.resize((w, h), Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(block / 2))
        out.paste(patch, area[:2])
    return out


def blurred_jpeg(jpeg: bytes) -> bytes | None:
    """`jpeg` (a stored, normalised photo) with its faces blurred, or None when no face was found.
    Encoded as media.photos encodes (baseline, 4:2:0, no metadata at all), a little higher quality."""
    with Image.open(io.BytesIO(jpeg), formats=("JPEG",)) as opened:
        image = opened.convert("RGB")
    boxes = detect_faces(image)
    if not boxes:
        return None
    blurred = blur_regions(image, boxes)
    blurred.info = {}  # nothing of the original's header goes along (it had none: media.photos.normalise)
    out = io.BytesIO()
    blurred.save(out, "JPEG", quality=BLURRED_QUALITY, subsampling="4:2:0")
    return out.getvalue()
