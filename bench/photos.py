"""Benchmark of residents' photos (not a test): how long normalising and the card take, and how
much memory a 50-megapixel photo costs.

    python bench/photos.py [--runs N]

Prints a table and writes bench/results/photos.json (flat keys; seconds, bytes, counts). The
pictures are made in a temporary folder: gradients, noise and shapes, so that the JPEGs are as
big as a phone's. Peak memory is measured in a fresh Python process per file: `ru_maxrss` after
the imports and after reading the file (the baseline), and again after normalising (the peak).
The goal: a 50-megapixel phone photo stays under 150 MB of peak RSS.
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


def measure_rss(path: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per timing (default 10)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
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
