"""Pictures with and without faces, made for the face blurring's tests and bench (media/faces.py).

Faces come from scikit-image's shipped data (a test and bench dependency only): the astronaut
(Eileen Collins, NASA, public domain) and the first 100 tiles of `lfw_subset` (Labeled Faces in the
Wild, 25×25 grey crops). Scenes are drawn here: a stairwell-like picture (walls, steps, a handrail,
a door, a fuse box, noise), to paste faces into at chosen sizes; the truth is where they were pasted.
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFilter

Box = tuple[int, int, int, int]

# The astronaut's face in skimage.data.astronaut() (512×512): forehead to chin, ear to ear.
ASTRONAUT_FACE: Box = (170, 55, 105, 115)
# The part of the astronaut pasted into scenes (helmet rim to collar) and the face within it.
_ASTRONAUT_CROP = (140, 25, 305, 215)


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).convert("RGB")


def astronaut_head() -> tuple[Image.Image, Box]:
    """The astronaut's head with some margin, and her face's box within it."""
    left, top, right, bottom = _ASTRONAUT_CROP
    x, y, w, h = ASTRONAUT_FACE
    return astronaut().crop(_ASTRONAUT_CROP), (x - left, y - top, w, h)


def lfw_faces(count: int = 100) -> list[Image.Image]:
    """Up to 100 different people's faces (LFW, grey, tightly cropped), tinted to skin colour."""
    from skimage import data

    tiles = data.lfw_subset()[:min(count, 100)]  # the first 100 are faces, the rest are not
    faces = []
    for tile in tiles:
        grey = Image.fromarray((tile * 255).round().astype("uint8"))
        faces.append(Image.merge("RGB", (grey.point(lambda v: min(255, int(v * 1.08) + 10)), grey,
                                         grey.point(lambda v: int(v * 0.88)))))
    return faces


def stairwell(width: int, height: int, seed: int = 0) -> Image.Image:
    """A stairwell-like scene with no face in it: painted walls, steps, a rail, a door, a fuse box."""
    rng = random.Random(seed)
    wall = Image.linear_gradient("L").resize((width, height)).point(lambda v: 150 + v // 3)
    # seeded noise: Pillow's effect_noise draws from C's rand(), so two scenes of one seed differed and the
    # cascade now and then saw a face in one of them (CI)
    noisy = random.Random(f"noise-{seed}")
    small = (width // 8, height // 8)
    noise = Image.frombytes("L", small, bytes(min(255, max(0, round(noisy.gauss(128, 24))))
                                              for _ in range(small[0] * small[1])))
    noise = noise.resize((width, height), Image.Resampling.BILINEAR)
    base = Image.blend(wall, noise, 0.25)
    tint = (rng.randrange(200, 240), rng.randrange(200, 235), rng.randrange(185, 220))
    image = Image.merge("RGB", [base.point(lambda v, t=t: v * t // 255) for t in tint])
    draw = ImageDraw.Draw(image)
    steps_top = height * 3 // 5
    for i in range(8):  # steps: lighter treads, darker risers, narrowing upwards
        y = steps_top + i * (height - steps_top) // 8
        inset = (8 - i) * width // 40
        draw.rectangle((inset, y, width - inset, y + (height - steps_top) // 16), fill=(170, 165, 160))
        draw.line((inset, y, width - inset, y), fill=(90, 85, 80), width=max(2, height // 400))
    rail = max(4, width // 250)
    draw.line((width // 20, height // 2, width * 19 // 20, steps_top - height // 10), fill=(60, 40, 30), width=rail)
    for i in range(12):  # balusters
        x = width // 20 + i * width * 9 // 100
        draw.line((x, height // 2 - i * height // 120, x, steps_top + height // 12), fill=(70, 50, 40),
                  width=max(2, rail // 2))
    door = (width * 2 // 3, height // 8, width * 2 // 3 + width // 6, steps_top)
    draw.rectangle(door, fill=(120, 70, 40), outline=(60, 35, 20), width=rail)
    draw.ellipse((door[0] + width // 60, (door[1] + door[3]) // 2, door[0] + width // 60 + rail * 3,
                  (door[1] + door[3]) // 2 + rail * 3), fill=(200, 180, 90))
    draw.rectangle((width // 8, height // 6, width // 8 + width // 10, height // 6 + height // 8),
                   fill=(190, 190, 185), outline=(80, 80, 80), width=max(2, rail // 2))  # fuse box
    for _ in range(30):  # notices, stains
        x, y = rng.randrange(width), rng.randrange(steps_top)
        w, h = rng.randrange(width // 60, width // 15), rng.randrange(height // 60, height // 15)
        draw.rectangle((x, y, x + w, y + h), fill=tuple(rng.randrange(140, 255) for _ in range(3)))
    return image.filter(ImageFilter.GaussianBlur(max(0.5, width / 2000)))


def paste_face(scene: Image.Image, face: Image.Image, face_box: Box, left: int, top: int, face_width: int) -> Box:
    """`face` (a picture with the face at `face_box` in it) pasted so that the face is `face_width` px
    wide with its picture's top left at (left, top); returns where the face now is in `scene`."""
    scale = face_width / face_box[2]
    size = (max(1, round(face.width * scale)), max(1, round(face.height * scale)))
    scene.paste(face.resize(size, Image.Resampling.LANCZOS), (left, top))
    x, y, w, h = face_box
    return left + round(x * scale), top + round(y * scale), round(w * scale), round(h * scale)


def matches(found: Box, truth: Box) -> bool:
    """A detection is of a true face when each one's centre lies inside the other."""
    def inside(point: tuple[float, float], box: Box) -> bool:
        return box[0] <= point[0] <= box[0] + box[2] and box[1] <= point[1] <= box[1] + box[3]

    def centre(box: Box) -> tuple[float, float]:
        return box[0] + box[2] / 2, box[1] + box[3] / 2

    return inside(centre(found), truth) and inside(centre(truth), found)


def score(found: list[Box], truth: list[Box]) -> tuple[int, int, int]:
    """(faces found, faces missed, false positives) of one picture."""
    hit = {i for i, t in enumerate(truth) if any(matches(f, t) for f in found)}
    false = sum(1 for f in found if not any(matches(f, t) for t in truth))
    return len(hit), len(truth) - len(hit), false
