"""Benchmark of residents' photos (not a test): how long normalising and the card take, and how
much memory a 50-megapixel photo costs.

    python bench/photos.py [--runs N]

Prints a table and writes bench/results/photos.json (flat keys; seconds, bytes, counts). The
pictures are made in a temporary folder: gradients, noise and shapes, so that the JPEGs are as
big as a phone's. Peak memory is measured in a fresh Python process per file: `ru_maxrss` after
the imports and after reading the file (the baseline), and again after normalising (the peak).
The goal: a 50-megapixel phone photo stays under 150 MB of peak RSS.

Faces (media/faces.py, `--faces-only` runs just this part): OpenCV's Haar cascade on a small set made
for the purpose (tests/faces_kit.py) — the astronaut, faces from LFW and the astronaut's head pasted
into stairwell-like scenes at several sizes (from a quarter to a fiftieth of the photo's long side),
and pictures with no face (plain stairwells, scikit-image's cat, coffee, rocket, bricks, grass …).
Counted: faces found, missed, false positives; and the time to blur a 12 MP photo (decode, detect
on a downscaled grey copy, map the boxes back, blur at full size, encode) and a stored 1600 px one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "photos.json"
GOAL_RSS_BYTES = 150 * 1024 * 1024
MB = 1024 * 1024


def phone_photo(width: int, height: int, seed: int) -> Image.Image:
    """Photo-like content: soft noise, fine grain, gradients and shapes."""
    rng = random.Random(seed)
    soft = Image.effect_noise((width // 4, height // 4), 50).resize((width, height), Image.Resampling.BILINEAR)
    grain = Image.effect_noise((width, height), 12)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (Image.blend(soft, grain, 0.5), gradient,
                                Image.blend(gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), soft, 0.3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(width // 10, width // 3), y0 + rng.randrange(height // 10, height // 3)
        draw.rectangle((x0, y0, x1, y1), outline=tuple(rng.randrange(256) for _ in range(3)), width=8)
    return image


def save_jpeg(image: Image.Image, path: Path, *, orientation: int | None = None, **options) -> int:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    exif[0x010F] = "BenchPhone"
    image.save(path, "JPEG", quality=options.pop("quality", 92), exif=exif.tobytes(), **options)
    return path.stat().st_size


def peak_rss() -> int:
    """This process's peak resident memory in bytes (see the module doc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def child(path: str) -> None:
    """Runs in a fresh process: normalise one file, report memory as JSON on stdout."""
    from media.photos import PhotoProblem, normalise

    data = Path(path).read_bytes()
    baseline = peak_rss()
    started = time.perf_counter()
    try:
        result = normalise(data, max_bytes=max(len(data), 20 * MB))
        outcome, size = "normalised", [result.width, result.height]
    except PhotoProblem as problem:
        outcome, size = problem.key, None
    seconds = time.perf_counter() - started
    peak = peak_rss()
    print(json.dumps({"baseline": baseline, "peak": peak, "seconds": seconds, "outcome": outcome, "size": size}))


def naive_normalise(data: bytes, max_side: int = 1600) -> bytes:
    """What a first version would write: open, turn upright, thumbnail with Lanczos, save at quality 85."""
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()


def normalise_against_naive(runs: int = 10) -> dict[str, float | int]:
    """`media.photos.normalise` against `naive_normalise` on one 12-megapixel phone JPEG (EXIF 6),
    CPU time of this process, the two taking turns `runs` times; medians and their ratio."""
    from media.photos import normalise

    with tempfile.TemporaryDirectory(prefix="redgrid-bench-") as folder:
        phone = Path(folder) / "phone-12mp.jpg"
        save_jpeg(phone_photo(4000, 3000, 1), phone, orientation=6)
        data = phone.read_bytes()
    ours_out, naive_out = normalise(data), naive_normalise(data)  # warm up
    ours, naive = [], []
    for _ in range(runs):
        for timed, fn in ((ours, lambda: normalise(data)), (naive, lambda: naive_normalise(data))):
            started = time.process_time()
            fn()
            timed.append(time.process_time() - started)
    with Image.open(io.BytesIO(naive_out)) as naive_image:
        naive_size = naive_image.size
    return {"photo_input_bytes": len(data), "photo_normalise_s": round(statistics.median(ours), 5),
            "photo_naive_s": round(statistics.median(naive), 5),
            "photo_ratio": round(statistics.median(ours) / statistics.median(naive), 3),
            "photo_normalise_bytes": len(ours_out.jpeg), "photo_naive_bytes": len(naive_out),
            "photo_normalise_size": f"{ours_out.width}x{ours_out.height}",
            "photo_naive_size": f"{naive_size[0]}x{naive_size[1]}", "photo_runs": runs}


def face_set() -> list[tuple[str, Image.Image, list]]:
    """(label, picture, true face boxes) of the measured set (see the module doc)."""
    from tests import faces_kit as kit
    from skimage import data

    pictures: list[tuple[str, Image.Image, list]] = [("astronaut", kit.astronaut(), [kit.ASTRONAUT_FACE])]
    head, head_face = kit.astronaut_head()
    lfw = kit.lfw_faces(100)
    seed = 100
    for width, height in ((1600, 1200), (4000, 3000)):
        for fraction in (4, 8, 16, 24, 32, 50):  # face width = long side / fraction
            scene = kit.stairwell(width, height, seed)
            truth = [kit.paste_face(scene, head, head_face, width // 3, height // 5, width // fraction)]
            pictures.append((f"astronaut head 1/{fraction} in {width}x{height}", scene, truth))
            seed += 1
    for n in range(0, 100, 4):  # 25 scenes with two LFW faces each, at 1/8 … 1/25 of the long side
        width, height = (1600, 1200)
        scene = kit.stairwell(width, height, seed)
        seed += 1
        sizes = (width // (8 + n % 18), width // (10 + (n * 7) % 16))
        truth = []
        for i, (face, face_width) in enumerate(zip(lfw[n:n + 2], sizes)):
            truth.append(kit.paste_face(scene, face, (0, 0, face.width, face.height),
                                        width // 8 + i * width // 2, height // 6 + (n % 5) * height // 12, face_width))
        pictures.append((f"two LFW faces {sizes[0]}/{sizes[1]} px in 1600x1200", scene, truth))
    pictures.append(("cameraman (a face in profile)", Image.fromarray(data.camera()).convert("RGB"),
                     [(170, 95, 85, 100)]))
    for n in range(20):
        pictures.append((f"plain stairwell {n}", kit.stairwell(*((1600, 1200) if n % 2 else (4000, 3000)), 500 + n), []))
    for name in ("chelsea", "coffee", "rocket", "brick", "grass", "gravel", "retina", "hubble_deep_field",
                 "immunohistochemistry", "coins", "page", "horse", "text", "clock", "logo", "cell"):
        try:
            pixels = getattr(data, name)()
        except Exception:  # noqa: BLE001 - a data file this scikit-image version lacks
            continue
        picture = Image.fromarray(pixels if pixels.dtype == "uint8" else (pixels * 255).astype("uint8"))
        pictures.append((f"skimage {name}", picture.convert("RGB"), []))
    return pictures


def measure_faces(runs: int) -> tuple[dict, list[tuple[str, str]]]:
    """Found/missed/false positives on `face_set`, and the time to blur a photo."""
    from media.faces import DETECT_SIDE, blur_regions, blurred_jpeg, detect_faces
    from media.photos import encode_jpeg, normalise
    from tests import faces_kit as kit

    found = missed = false = 0
    with_faces = without = false_pictures = 0
    by_fraction: dict[str, list[int]] = {}
    misses: list[str] = []
    falses: list[str] = []
    started = time.perf_counter()
    for label, picture, truth in face_set():
        hit, miss, fp = kit.score(detect_faces(picture), truth)
        found, missed, false = found + hit, missed + miss, false + fp
        with_faces, without = with_faces + bool(truth), without + (not truth)
        false_pictures += bool(fp)
        if label.startswith("astronaut head"):
            fraction = label.split()[2]
            by_fraction.setdefault(fraction, [0, 0])
            by_fraction[fraction][0] += hit
            by_fraction[fraction][1] += len(truth)
        if miss:
            misses.append(label)
        if fp:
            falses.append(label)
    set_seconds = time.perf_counter() - started
    results: dict = {"faces_detect_side": DETECT_SIDE, "faces_true": found + missed, "faces_found": found,
                     "faces_missed": missed, "faces_false_positives": false,
                     "faces_pictures_with_faces": with_faces, "faces_pictures_without": without,
                     "faces_pictures_with_a_false_positive": false_pictures,
                     "faces_recall": round(found / max(1, found + missed), 3), "faces_set_seconds": round(set_seconds, 2)}
    for fraction, (hit, total) in by_fraction.items():
        results[f"faces_astronaut_head_{fraction.replace('/', '_of_')}_found"] = f"{hit}/{total}"
    rows = [("faces: found / missed / false positives",
             f"{found} found, {missed} missed of {found + missed} ({results['faces_recall']:.0%}); "
             f"{false} false positives in {false_pictures} of {with_faces + without} pictures"),
            ("faces: astronaut head by size (of 2 scenes)",
             ", ".join(f"{k} {h}/{t}" for k, (h, t) in by_fraction.items()))]
    results["faces_missed_in"] = misses
    results["faces_false_positive_in"] = falses

    # the time: a 12 MP photo with a face, and the stored (normalised) photo the bot blurs lazily
    head, head_face = kit.astronaut_head()
    scene = kit.stairwell(4000, 3000, 7)
    kit.paste_face(scene, head, head_face, 1300, 600, 400)
    twelve = _jpeg_bytes(scene, quality=92)
    stored = normalise(twelve).jpeg

    def blur_twelve() -> bytes:
        with Image.open(io.BytesIO(twelve)) as opened:
            image = opened.convert("RGB")
        return encode_jpeg(blur_regions(image, detect_faces(image)))

    def detect_only() -> int:
        with Image.open(io.BytesIO(twelve)) as opened:
            return len(detect_faces(opened.convert("RGB")))

    blur_twelve()
    for key, fn, label in (("faces_12mp_detect_seconds", detect_only, "faces: decode + detect, 12 MP JPEG"),
                           ("faces_12mp_blur_seconds", blur_twelve, "faces: decode + detect + blur + encode, 12 MP"),
                           ("faces_stored_blur_seconds", lambda: blurred_jpeg(stored),
                            "faces: blurred copy of a stored 1600×1200 photo")):
        times, cpu = [], []
        for _ in range(max(3, runs // 2)):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - wall0)
            cpu.append(time.process_time() - cpu0)
        results[key] = round(statistics.median(times), 4)
        results[key.replace("_seconds", "_cpu_seconds")] = round(statistics.median(cpu), 4)
        rows.append((label, f"{statistics.median(times) * 1000:.0f} ms (CPU {statistics.median(cpu) * 1000:.0f} ms), "
                            f"median of {len(times)}"))
    return results, rows


def faces_picture(path: Path = ROOT / "docs" / "faces-blurred.png") -> Path:
    """The README's before/after picture: a stairwell photo with two neighbours' faces, as the handler
    and staff see it, and as a neighbour who joined the case sees it (`--faces-picture`)."""
    from media.card import find_cjk_font, load_font
    from media.faces import blur_regions, detect_faces
    from tests import faces_kit as kit

    scene = kit.stairwell(1600, 1200, 42)
    head, head_face = kit.astronaut_head()
    kit.paste_face(scene, head, head_face, 380, 260, 230)
    lfw = kit.lfw_faces(3)[2]
    kit.paste_face(scene, lfw, (0, 0, lfw.width, lfw.height), 1000, 330, 150)
    boxes = detect_faces(scene)
    after = blur_regions(scene, boxes)
    panel_w, panel_h, top = 800, 600, 70
    sheet = Image.new("RGB", (2 * panel_w + 30, panel_h + top + 10), (255, 255, 255))
    font = load_font(find_cjk_font(), 28)
    draw = ImageDraw.Draw(sheet)
    for i, (image, caption) in enumerate(((scene, "原图：经办人、社区工作人员、拍摄者可见 (original)"),
                                           (after, f"邻居看到的：人脸已打码 (faces blurred: {len(boxes)})"))):
        left = 10 + i * (panel_w + 10)
        sheet.paste(image.resize((panel_w, panel_h), Image.Resampling.LANCZOS), (left, top))
        draw.text((left, 20), caption, fill=(30, 30, 30), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return path


def measure_rss(path: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per timing (default 10)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--faces-only", action="store_true",
                        help="measure only the face blurring; merge into the results file")
    parser.add_argument("--faces-picture", action="store_true", help="draw docs/faces-blurred.png and stop")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.faces_picture:
        print(f"written to {faces_picture().relative_to(ROOT)}")
        return
    if args.faces_only:
        faces, rows = measure_faces(args.runs)
        merged = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
        merged.update(faces)
        RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for name, value in rows:
            print(f"  {name}  {value}")
        return

    from media.card import FontMissing, render_card
    from media.photos import normalise

    results: dict[str, float | int] = {"cpu_count": os.cpu_count() or 0, "runs": args.runs}
    rows: list[tuple[str, str]] = []
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="redgrid-bench-") as folder:
        tmp = Path(folder)

        # 1. a 12-megapixel phone photo, stored sideways with EXIF orientation 6
        phone = tmp / "phone-12mp.jpg"
        phone_bytes = save_jpeg(phone_photo(4000, 3000, 1), phone, orientation=6)
        data = phone.read_bytes()
        result = normalise(data)  # warm up; the same result every time
        times = _timed(lambda: normalise(data), args.runs)
        results.update({
            "normalise_12mp_input_bytes": phone_bytes,
            "normalise_12mp_output_bytes": len(result.jpeg),
            "normalise_12mp_output_width": result.width,
            "normalise_12mp_output_height": result.height,
            "normalise_12mp_seconds_mean": statistics.fmean(times),
            "normalise_12mp_seconds_median": statistics.median(times),
            "normalise_12mp_seconds_min": min(times),
        })
        rows.append(("normalise 12 MP JPEG (4000×3000, EXIF 6)",
                     f"{statistics.fmean(times) * 1000:.0f} ms/image (median {statistics.median(times) * 1000:.0f}, "
                     f"{phone_bytes / MB:.1f} MB → {len(result.jpeg) / 1024:.0f} KB, "
                     f"{result.width}×{result.height})"))

        # 1a. the same against naive Pillow, CPU time, taking turns (issue #18: ≤ 0.4×)
        naive = normalise_against_naive(args.runs)
        results.update(naive)
        rows.append(("normalise 12 MP ÷ naive Pillow (CPU)",
                     f"{naive['photo_ratio']:.2f} ({naive['photo_normalise_s'] * 1000:.0f} against "
                     f"{naive['photo_naive_s'] * 1000:.0f} ms; {naive['photo_normalise_bytes'] / 1024:.0f} KB against "
                     f"{naive['photo_naive_bytes'] / 1024:.0f} KB) — target ≤ 0.4"))

        # 1b. a photo as Telegram delivers it (re-encoded by Telegram, no metadata): kept as it is,
        #     against the same picture carrying a comment, which has to be encoded again
        telegram_photo = phone_photo(1280, 960, 6)
        as_sent = _jpeg_bytes(telegram_photo, quality=87)
        with_comment = _jpeg_bytes(telegram_photo, quality=87, comment=b"taken at home")
        for key, sample, label in (("kept", as_sent, "normalise a Telegram photo (1280×960, clean): kept"),
                                   ("reencoded", with_comment, "the same photo with a comment: encoded again")):
            normalise(sample)
            times = _timed(lambda: normalise(sample), args.runs)
            results[f"normalise_telegram_{key}_seconds_mean"] = statistics.fmean(times)
            rows.append((label, f"{statistics.fmean(times) * 1000:.1f} ms/image ({len(sample) / 1024:.0f} KB)"))

        # 2. the three-photo card from three normalised photos
        others = [normalise(_jpeg_bytes(phone_photo(3000, 4000, seed))).jpeg for seed in (2, 3, 4)]
        labels, title = ("事前", "事中", "事后"), "DC-2026-000123 · 垃圾堆放"
        subtitles = ["上报：2026年11月21日 09:12　东城社区 3号楼", "办结：2026年11月22日 16:40（用时 1 个工作日）"]
        try:
            card = render_card(*others, labels=labels, title=title, subtitle_lines=subtitles)
            times = _timed(lambda: render_card(*others, labels=labels, title=title, subtitle_lines=subtitles),
                           args.runs)
            results.update({"card_seconds_mean": statistics.fmean(times),
                            "card_seconds_median": statistics.median(times), "card_bytes": len(card)})
            rows.append(("render the three-photo card (1600 px wide)",
                         f"{statistics.fmean(times) * 1000:.0f} ms/card ({len(card) / 1024:.0f} KB)"))
        except FontMissing as missing:
            rows.append(("render the three-photo card", f"skipped: {missing}"))

        # 3. peak memory, each in a fresh process
        big = tmp / "phone-50mp.jpg"
        photo = phone_photo(8160, 6120, 5)
        sizes = {"50mp": save_jpeg(photo, big, orientation=6)}
        progressive = tmp / "edited-50mp-progressive.jpg"
        sizes["50mp_progressive"] = save_jpeg(photo, progressive, progressive=True)
        del photo
        for key, path, label in (("12mp", phone, "peak RSS, 12 MP JPEG"),
                                 ("50mp", big, "peak RSS, 50 MP JPEG (8160×6120)"),
                                 ("50mp_progressive", progressive, "peak RSS, 50 MP progressive JPEG")):
            rss = measure_rss(path)
            results.update({
                f"rss_{key}_input_bytes": path.stat().st_size,
                f"rss_{key}_baseline_bytes": rss["baseline"],
                f"rss_{key}_peak_bytes": rss["peak"],
                f"rss_{key}_growth_bytes": rss["peak"] - rss["baseline"],
                f"rss_{key}_seconds": rss["seconds"],
                f"rss_{key}_refused": int(rss["outcome"] != "normalised"),
            })
            verdict = "normalised" if rss["outcome"] == "normalised" else f"refused ({rss['outcome']})"
            rows.append((label, f"{rss['peak'] / MB:.0f} MB peak, {rss['baseline'] / MB:.0f} MB baseline, "
                                f"+{(rss['peak'] - rss['baseline']) / MB:.0f} MB; {verdict} in "
                                f"{rss['seconds'] * 1000:.0f} ms; file {path.stat().st_size / MB:.1f} MB"))
    faces, face_rows = measure_faces(args.runs)
    results.update(faces)
    rows.extend(face_rows)
    results["goal_rss_bytes"] = GOAL_RSS_BYTES
    results["rss_50mp_under_goal"] = int(results["rss_50mp_peak_bytes"] < GOAL_RSS_BYTES)
    results["bench_seconds"] = time.perf_counter() - wall

    width = max(len(name) for name, _ in rows)
    print(f"redgrid photos benchmark — Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{args.runs} runs per timing")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    goal = "met" if results["rss_50mp_under_goal"] else "MISSED"
    print(f"  goal: 50 MP JPEG under {GOAL_RSS_BYTES // MB} MB peak RSS — {goal}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"  written to {RESULTS.relative_to(ROOT)} in {results['bench_seconds']:.1f} s")


def _jpeg_bytes(image: Image.Image, quality: int = 90, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **options)
    return out.getvalue()


def _timed(run, runs: int) -> list[float]:
    """Seconds of each of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


if __name__ == "__main__":
    main()
