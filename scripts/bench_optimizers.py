"""Optimizers on the embedded default's problem, side by side in one process: the default's Adam
(3,000 steps, x0.9 every 1,000, pinned here so that the comparison does not move with the
defaults) against Adam then L-BFGS (``optimizer=adam_lbfgs``: 1,000 Adam steps, then 300 steps of
10 L-BFGS iterations), in float32 and float64; also plain L-BFGS and SOAP. ``--problem``:
``helmholtz`` (smooth Helmholtz, 2,000 points, Adam 3e-3: the default before issue 15, on which
issue 12 set its goal of rel-L2 <= 1e-3 within twice the default's time) or ``burgers`` (Burgers
nu 0.03, 2,560 points, Adam 1e-3: the default since). 4 x 64 tanh MLP, seed 0.

Each run records its metrics every ``eval_every`` steps; the table gives its steps, wall time,
final rel-L2, the first recorded step at which rel-L2 <= 1e-3 and the wall time then, and the
run's wall time over the default's. Run it with one thread, as on a laptop core::

    OMP_NUM_THREADS=1 python scripts/bench_optimizers.py [--problem helmholtz|burgers]
        [--runs default,adam_lbfgs,...] [--set KEY=V ...] [--quick]

(every run also gets ``threads=1``). ``--set`` adds overrides to the runs other than the
default; ``--quick`` is a smoke test of a few hundred steps.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchlib import compose_cfg

TARGET = 1e-3
COMMON = ["device=cpu", "threads=1", "diagnostics=basic", "seed=0", "model=mlp"]
# --problem: the PDE option and the Adam rate of default and adam_lbfgs (the embedded default
# before issue 15, and since)
PROBLEMS = {"helmholtz": ["pde=helmholtz_smooth", "optimizer.lr=3e-3"],
            "burgers": ["pde=burgers_smooth", "optimizer.lr=1e-3"]}
DEFAULT = ["optimizer=adam", "optimizer.decay_rate=0.9",
           "optimizer.decay_every=1000", "optimizer.schedule=staircase", "iterations=3000"]
# 1,000 Adam steps at the default's rate, then L-BFGS with 10 iterations per pinn-cli step
ADAM_LBFGS = ["optimizer=adam_lbfgs", "optimizer.decay_rate=0.9",
              "optimizer.decay_every=1000", "optimizer.adam_steps=1000", "optimizer.max_iter=10",
              "iterations=1300", "eval_every=10"]
RUNS = {
    "default": DEFAULT,
    "adam_lbfgs": ADAM_LBFGS,
    "adam_lbfgs_f64": ADAM_LBFGS + ["dtype=float64"],
    "lbfgs": ["optimizer=lbfgs", "optimizer.max_iter=10", "iterations=500", "eval_every=10"],
    "soap": ["optimizer=soap", "iterations=3000"],
}
QUICK = {"default": ["iterations=300"], "adam_lbfgs": ["optimizer.adam_steps=200", "iterations=230"],
         "lbfgs": ["iterations=30"], "soap": ["iterations=300"]}


def train(overrides: list[str]) -> dict:
    """One run -> its summary, wall time and metrics series."""
    from pinn_cli.runfile import read_run
    from pinn_cli.training.trainer import run

    run_dir = tempfile.mkdtemp(prefix="pinn-bench-opt-")
    t0 = time.perf_counter()
    summary = run(compose_cfg(overrides), run_dir)
    wall = time.perf_counter() - t0
    metrics = read_run(f"{run_dir}/run.h5").series["metrics"]
    return {"summary": summary, "wall": wall, "metrics": metrics}


def row(name: str, result: dict, ref_wall: float | None) -> str:
    m, s = result["metrics"], result["summary"]
    hit = np.flatnonzero(m["rel_l2"] <= TARGET)
    reach = (f"{int(m['step'][hit[0]]):>10d} {m['wall_time'][hit[0]]:7.1f}" if len(hit)
             else f"{'-':>10} {'-':>7}")
    ratio = f"{result['wall'] / ref_wall:6.2f}" if ref_wall else f"{'-':>6}"
    return (f"{name:<16} {s['status']:<7} {s['steps']:>6d} {result['wall']:8.1f} "
            f"{s.get('final_rel_l2', float('nan')):10.3e} {reach} {ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="default,adam_lbfgs,adam_lbfgs_f64",
                    help=f"comma-separated, of {', '.join(RUNS)}")
    ap.add_argument("--set", nargs="*", default=[], help="overrides added to the non-default runs")
    ap.add_argument("--quick", action="store_true", help="a few hundred steps (a smoke test)")
    ap.add_argument("--problem", choices=list(PROBLEMS), default="helmholtz",
                    help="smooth Helmholtz at Adam 3e-3 (the issue-12 goal's) or Burgers nu 0.03 at 1e-3")
    args = ap.parse_args()
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, threads=1 per run; "
          f"target rel-L2 <= {TARGET:g}")
    print(f"{'run':<16} {'status':<7} {'steps':>6} {'wall_s':>8} {'rel_l2':>10} "
          f"{'step<=1e-3':>10} {'at_s':>7} {'x_wall':>6}")
    ref_wall, (pde, lr) = None, PROBLEMS[args.problem]
    for name in args.runs.split(","):
        adam_rate = [lr] if name in ("default", "adam_lbfgs", "adam_lbfgs_f64") else []
        overrides = COMMON + [pde] + RUNS[name] + adam_rate + (args.set if name != "default" else [])
        if args.quick:
            overrides = overrides + QUICK[name.removesuffix("_f64")]
        result = train(overrides)
        print(row(name, result, ref_wall), flush=True)
        if name == "default":
            ref_wall = result["wall"]


if __name__ == "__main__":
    main()
