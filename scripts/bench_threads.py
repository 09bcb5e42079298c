"""Throughput of the default run idle and beside busy loops, under thread/OpenMP settings.

Each variant is one ``pinn-train`` subprocess (the embedded default, ``iterations`` steps,
diagnostics as shipped) with its own environment; its speed is steps per second of training
(from the run file's wall time, so start-up and the reference are left out). Variants are run
round-robin, ``rounds`` times, first on an idle machine, then beside ``--busy`` processes that
spin (``python -c 'while 1: pass'``), and each is reported against the first variant of the same
round (a ratio, so machine drift cancels)::

    python scripts/bench_threads.py --iterations 600 --rounds 2 --busy 2
    python scripts/bench_threads.py --variants "shipped;GOMP_SPINCOUNT=300000"

A variant is ``shipped`` (the entry point's own policy) or ``KEY=VALUE,...`` set in the
environment (an explicit setting wins over the policy; ``threads=N`` is passed to pinn-train).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pinn_cli.runfile import read_run

# GOMP_SPINCOUNT=300000 is libgomp's own default (what runs without the entry point's policy)
DEFAULT_VARIANTS = "shipped;GOMP_SPINCOUNT=300000;OMP_WAIT_POLICY=PASSIVE;threads=1"


def parse_variant(text: str) -> tuple[dict, list[str]]:
    """'A=1,threads=1' -> ({A: '1'}, ['threads=1'])."""
    env, args = {}, []
    if text == "shipped":
        return env, args
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key == "threads":
            args.append(f"threads={value}")
        else:
            env[key] = value
    return env, args


def run_variant(text: str, iterations: int, folder: Path) -> float:
    """Steps per second of one run of the default under the variant ``text``."""
    extra_env, args = parse_variant(text)
    env = dict(os.environ)
    env.update(extra_env)
    run_dir = folder / f"run{len(list(folder.iterdir()))}"
    cmd = [str(Path(sys.executable).with_name("pinn-train")), f"iterations={iterations}",
           f"hydra.run.dir={run_dir}", "log_every=100000", *args]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    m = read_run(run_dir / "run.h5").series["metrics"]
    steps, wall = m["step"], m["wall_time"]
    return float((steps[-1] - steps[1]) / (wall[-1] - wall[1]))


def measure(variants: list[str], iterations: int, rounds: int) -> dict[str, list[float]]:
    speeds = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="pinn-bench-threads-") as tmp:
        for _ in range(rounds):
            for v in variants:
                speeds[v].append(run_variant(v, iterations, Path(tmp)))
    return speeds


def report(title: str, speeds: dict[str, list[float]], idle: dict | None = None) -> None:
    base = next(iter(speeds))
    print(f"\n{title}")
    print(f"{'variant':44s} {'it/s (median)':>14s} {'vs ' + base[:12]:>16s}"
          + (f" {'vs its idle':>12s}" if idle else ""))
    for v, s in speeds.items():
        ratio = statistics.median(a / b for a, b in zip(s, speeds[base]))
        line = f"{v:44s} {statistics.median(s):14.1f} {ratio:16.2f}"
        if idle:
            line += f" {statistics.median(s) / statistics.median(idle[v]):12.2f}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--busy", type=int, default=2, help="spinning processes for the busy part")
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="';'-separated")
    ap.add_argument("--skip-idle", action="store_true")
    a = ap.parse_args()
    variants = a.variants.split(";")
    print(f"{os.cpu_count()} cores; default run, {a.iterations} steps, {a.rounds} rounds")
    idle = None
    if not a.skip_idle:
        idle = measure(variants, a.iterations, a.rounds)
        report("idle", idle)
    if a.busy:
        spinners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(a.busy)]
        try:
            time.sleep(1)
            busy = measure(variants, a.iterations, a.rounds)
        finally:
            for p in spinners:
                p.kill()
        report(f"beside {a.busy} busy loops", busy, idle)


if __name__ == "__main__":
    main()
