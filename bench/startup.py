"""Start-up: how long the `redgrid` command takes to say something, against importing aiogram alone.

    python bench/startup.py              # 3 repetitions; writes bench/results/startup.json
    python bench/startup.py --reps 5

Each command is a fresh process, started as a person starts it: the venv's `redgrid` console script,
in an empty working directory (no .env), with only the settings it needs in the environment.
Measured for each, wall time and the process's own CPU time (user + system), ≥ 3 repetitions,
given as min / median / max:

* `python -c "import aiogram"` — the yardstick: what the bot's framework alone costs to import;
* `redgrid --help` and `redgrid <command> --help` for every command — until the process exits;
* `redgrid run` with no BOT_TOKEN — until it has printed its hint and exited (checked: the hint is
  the one line it prints, exit status 2);
* `redgrid demo --fresh` — until it prints its ready line ("redgrid demo: open …"), then stopped
  with SIGTERM. Its CPU is read from /proc/<pid>/stat at that moment.

Targets (issue #18): the hint and every --help < 1 s; the demo ready within 1.5 × the bare import
of aiogram (medians of the same run). The machine is shared: compare figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REDGRID = Path(sys.executable).parent / "redgrid"
COMMANDS = ("run", "migrate", "demo", "import-org", "invite", "audit", "open311-key", "forget")
READY = "redgrid demo: open "
TARGET_FAST_S = 1.0
TARGET_DEMO_RATIO = 1.5
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
DEMO_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(workdir: Path) -> dict[str, str]:
    """The caller's environment without any redgrid setting, so nothing outside decides the run."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("BOT_", "DATABASE_", "REDIS_"))}
    env.update(BOT_TOKEN="", DATA_DIR=str(workdir / "data"), PYTHONDONTWRITEBYTECODE="0",
               DASHBOARD_PORT=str(free_port()), LOG_LEVEL="WARNING")
    return env


def run_to_exit(argv: list[str], workdir: Path, env: dict[str, str]) -> tuple[float, float, int, str, str]:
    """(wall s, CPU s, exit status, stdout, stderr): CPU from the difference of RUSAGE_CHILDREN."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode, done.stdout, done.stderr


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime, stime (all threads)


def demo_until_ready(workdir: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s) from the start of `redgrid demo --fresh` to its ready line, and that line."""
    argv = [str(REDGRID), "demo", "--fresh", "--port", str(free_port()), "--api-port", str(free_port())]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1)
    try:
        assert proc.stdout is not None
        deadline = start + DEMO_TIMEOUT_S
        for line in proc.stdout:
            if line.startswith(READY):
                wall = time.perf_counter() - start
                cpu = process_cpu(proc.pid)
                return wall, cpu, line.strip()
            if time.perf_counter() > deadline:
                break
        raise RuntimeError(f"redgrid demo did not say it was ready (exit {proc.poll()})")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    walls = [w for w, _ in samples]
    cpus = [c for _, c in samples]
    return {"wall_min_s": round(min(walls), 3), "wall_median_s": round(statistics.median(walls), 3),
            "wall_max_s": round(max(walls), 3), "cpu_min_s": round(min(cpus), 3),
            "cpu_median_s": round(statistics.median(cpus), 3), "cpu_max_s": round(max(cpus), 3),
            "walls_s": [round(w, 3) for w in walls], "cpus_s": [round(c, 3) for c in cpus]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    reps = max(1, args.reps)
    cases: dict[str, list[str]] = {
        "import aiogram": [sys.executable, "-c", "import aiogram"],
        "redgrid --help": [str(REDGRID), "--help"],
        **{f"redgrid {c} --help": [str(REDGRID), c, "--help"] for c in COMMANDS},
        "redgrid run (no token)": [str(REDGRID), "run"],
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in [*cases, "redgrid demo --fresh"]}
    loads = []
    with tempfile.TemporaryDirectory(prefix="redgrid-startup-") as tmp:
        workdir = Path(tmp)
        env = environment(workdir)
        for rep in range(reps):  # the commands take turns, so a busy minute is shared among them
            loads.append(os.getloadavg()[0])
            for name, argv in cases.items():
                wall, cpu, status, out, err = run_to_exit(argv, workdir, env)
                if name.endswith("--help"):
                    assert status == 0 and "usage: redgrid" in out, (name, status, out, err)
                elif name.startswith("redgrid run"):
                    assert status == 2 and "No BOT_TOKEN set" in err, (name, status, out, err)
                else:
                    assert status == 0, (name, status, err)
                samples[name].append((wall, cpu))
            wall, cpu, line = demo_until_ready(workdir, env)
            samples["redgrid demo --fresh"].append((wall, cpu))
            print(f"repetition {rep + 1}/{reps} done (load {loads[-1]:.1f})", file=sys.stderr)
    figures = {name: summary(s) for name, s in samples.items()}
    aiogram = figures["import aiogram"]
    demo = figures["redgrid demo --fresh"]
    fast = [n for n in figures if n.endswith("--help") or n.startswith("redgrid run")]
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(), "cpu_count": os.cpu_count(), "repetitions": reps,
        "load_average_at_start_of_each_repetition": [round(x, 1) for x in loads],
        "target_fast_s": TARGET_FAST_S, "target_demo_ratio": TARGET_DEMO_RATIO,
        "commands": figures,
        "slowest_fast_path_wall_median_s": max(figures[n]["wall_median_s"] for n in fast),
        "demo_over_import_aiogram_wall": round(demo["wall_median_s"] / aiogram["wall_median_s"], 2),
        "demo_over_import_aiogram_cpu": round(demo["cpu_median_s"] / aiogram["cpu_median_s"], 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    width = max(len(n) for n in figures)
    print(f"{'command':<{width}}  wall min / median / max (s)   CPU min / median / max (s)")
    for name, f in figures.items():
        print(f"{name:<{width}}  {f['wall_min_s']:6.2f} {f['wall_median_s']:6.2f} {f['wall_max_s']:6.2f}"
              f"          {f['cpu_min_s']:6.2f} {f['cpu_median_s']:6.2f} {f['cpu_max_s']:6.2f}")
    print(f"slowest --help / hint (median wall): {results['slowest_fast_path_wall_median_s']:.2f} s "
          f"(target < {TARGET_FAST_S} s)")
    print(f"demo ready / import aiogram (median): wall {results['demo_over_import_aiogram_wall']}×, "
          f"CPU {results['demo_over_import_aiogram_cpu']}× (target ≤ {TARGET_DEMO_RATIO}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
