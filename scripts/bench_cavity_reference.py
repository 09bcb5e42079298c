"""The lid-driven cavity reference solver on a few grids: solve time, Newton steps, the largest
deviation of the centreline velocities from Ghia, Ghia & Shin (1982), and how much the centreline
values change from the grid with half as many cells (compared on the coarser grid's nodes).

    OMP_NUM_THREADS=1 python scripts/bench_cavity_reference.py [--re100 32 64 128 256]
                                                             [--re1000 64 128 256]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from pinn_cli.reference.cavity import centerlines, ghia_deviation, solve_cavity


def _coarse(sol: dict, n_coarse: int) -> np.ndarray:
    stride = (len(sol["x"]) - 1) // n_coarse
    uc, vc = centerlines(sol)
    return np.concatenate([uc[::stride], vc[::stride]])


def run(re: float, grids: list[int]) -> None:
    prev, prev_change = None, None
    for n in sorted(grids):
        t0 = time.perf_counter()
        sol = solve_cavity(re=re, n=n)
        seconds = time.perf_counter() - t0
        du, dv = ghia_deviation(sol, re)
        change = ratio = "-"
        if prev is not None and n == 2 * prev[0]:
            d = float(np.abs(_coarse(sol, prev[0]) - _coarse(prev[1], prev[0])).max())
            change = f"{d:.2e}"
            ratio = f"{prev_change / d:.2f}" if prev_change else "-"
            prev_change = d
        print(f"{re:>6g} {n:>5d} {seconds:>8.2f} {int(sol['iterations']):>7d} {du:>10.4f} "
              f"{dv:>10.4f} {change:>10} {ratio:>6} {float(sol['psi'].min()):>9.5f}", flush=True)
        prev = (n, sol)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--re100", type=int, nargs="*", default=[32, 64, 128, 256])
    ap.add_argument("--re1000", type=int, nargs="*", default=[64, 128, 256])
    args = ap.parse_args()
    print("    Re     n  time[s]  newton  max|du|Gh  max|dv|Gh  change/2n  ratio   psi_min")
    run(100.0, args.re100)
    run(1000.0, args.re1000)
    print("max|du|Gh, max|dv|Gh: centreline u on x = 0.5 and v on y = 0.5 against Ghia's 17 points;"
          "\nchange/2n: max change of both centrelines from the n/2 grid; ratio: previous change / "
          "this one (4 for second order).")


if __name__ == "__main__":
    main()
