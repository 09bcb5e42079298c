"""Error against wall-clock time: when each run first reached each rel-L2, and one figure.

Reads finished (or stopped) runs, their ``/metrics`` records (rel_l2 and the training wall time
at every evaluation), and prints, per run, the seconds and step at which the headline rel-L2
first fell to each target, its best and final errors; ``--figure`` draws rel-L2 against wall
time, one curve per run, labelled by the run's optimizer (or ``--label``).

    python scripts/bench_time_to_accuracy.py RUN_OR_SWEEP... [--targets 1e-2,1e-3,1e-4]
        [--figure docs/figures/time_to_accuracy.png] [--title TEXT]

The runs themselves are presets and studies (docs/RESULTS.md, "Quasi-Newton"), e.g.
    pinn-train +experiment=cpu_allen_cahn_full seed=0
    pinn-train -m +study=optimizers
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from pinn_cli.run_folder import RunFolder
from pinn_cli.runfile import read_run


def first_reached(steps, wall, err, target: float):
    """(seconds, step) of the first record with err <= target, or None."""
    hit = np.nonzero(err <= target)[0]
    return None if len(hit) == 0 else (float(wall[hit[0]]), int(steps[hit[0]]))


def label_of(run) -> str:
    cfg = yaml.safe_load(run.attrs.get("config", "")) or {}
    opt = str((cfg.get("optimizer") or {}).get("_target_", "?")).rsplit(".", 1)[-1]
    return f"{cfg.get('pde', {}).get('_target_', '?').rsplit('.', 1)[-1]} {opt} seed {cfg.get('seed')}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--targets", default="1e-2,1e-3,1e-4,1e-5")
    ap.add_argument("--figure", type=Path)
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    targets = [float(t) for t in args.targets.split(",")]
    curves = []
    head = f"{'run':<48} {'status':<11}" + "".join(f"{'<= ' + format(t, 'g'):>16}" for t in targets)
    print(head + f"{'best':>11}{'final':>11}{'wall s':>9}")
    for p in args.paths:
        for f in RunFolder.run_files_under(p):
            r = read_run(f)
            m = r.series["metrics"]
            steps, wall, err = m["step"], m["wall_time"], m["rel_l2"]
            name = label_of(r)
            cells = []
            for t in targets:
                hit = first_reached(steps, wall, err, t)
                cells.append("-" if hit is None else f"{hit[0]:.0f} s @{hit[1]}")
            print(f"{name[:48]:<48} {str(r.attrs.get('status')):<11}"
                  + "".join(f"{c:>16}" for c in cells)
                  + f"{np.nanmin(err):11.2e}{err[-1]:11.2e}{wall[-1]:9.0f}")
            curves.append((name, wall, err))
    if args.figure:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for name, wall, err in curves:
            ax.semilogy(wall / 60, err, label=name, lw=1.2)
        ax.set_xlabel("training wall time (min, one CPU core)")
        ax.set_ylabel("rel-L2 error")
        ax.set_title(args.title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure, dpi=120)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
