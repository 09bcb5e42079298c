"""The cavity's step in its two formulations, side by side: stream function (outputs psi, p;
third derivatives) against velocity-pressure (outputs u, v, p; second derivatives, a third
residual), the same network size and points, timed round-robin in one process (median).

    python scripts/bench_cavity_formulations.py [--steps 15] [--depth 3] [--width 30]
        [--points 3000] [--dtype float64] [--optimizer adam]
"""
from __future__ import annotations

import argparse

import torch

from benchlib import alternating, trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--width", type=int, default=30)
    ap.add_argument("--points", type=int, default=3000)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    common = ["pde=lid_driven_cavity", "pde.re=100", f"pde.n_collocation={args.points}",
              "pde.reference.n=16", f"model.depth={args.depth}", f"model.width={args.width}",
              f"dtype={args.dtype}", "diagnostics=off", "device=cpu", f"threads={args.threads}",
              "iterations=100000"]
    runs = {}
    for form in ("stream_function", "velocity_pressure"):
        t = trainer(common + [f"pde.formulation={form}"])
        runs[form] = (lambda t: lambda: t.step(0))(t)
    med = alternating(runs, args.steps, "cpu", warmup=2)
    print(f"cavity step, {args.depth} x {args.width}, {args.points} points, {args.dtype}, "
          f"{args.threads} thread(s), Adam, median of {args.steps}")
    for k, v in med.items():
        print(f"  {k:<18} {v * 1e3:8.1f} ms")
    print(f"  velocity-pressure over stream function: {med['velocity_pressure'] / med['stream_function']:.2f}x the time")


if __name__ == "__main__":
    main()
