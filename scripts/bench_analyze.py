"""How long pinn-analyze takes on a paper-length run (300,000 steps), without figures.

Writes a synthetic run file with the ``paper`` preset's records over 300,000 steps (3,057 SNR
records, 7 weight matrices, 6 hidden layers, 36 residual maps of 64 x 64), with known transitions
at steps 150 and 91,700 under log-normal flicker, then times ``pinn-analyze --no-figures`` on it
(reading the file included) and prints the onsets it found.

    python scripts/bench_analyze.py
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from pinn_cli.cli.analyze import main as analyze
from pinn_cli.diagnostics.cadence import Cadence
from pinn_cli.runfile import RunWriter, SeriesSpec

STEPS = 300_000


def write_run(path: Path) -> int:
    rng = np.random.default_rng(0)
    snr_c, ent_c = Cadence(100, 5, 300), Cadence(100, 10, 200)
    map_c = Cadence(10_000, at=[0, 100, 200, 500, 1000, 2000, 5000])
    f = lambda n: ((n,), "f8") if n else ((), "f8")
    w = RunWriter(path, {"config": "pde: {_target_: x.AllenCahn}\nseed: 0\n"}, {
        "metrics": SeriesSpec({k: f(0) for k in ("loss", "loss_res", "loss_ic", "res_mse", "rel_l2", "lr", "wall_time")}),
        "snr": SeriesSpec({"global": f(0), "per_layer": f(7), "order": f(0), "order_per_layer": f(7),
                           "adam": f(0), "adam_step": f(0)}),
        "residual": SeriesSpec({"homogeneity": f(0), "homogeneity_weights": f(0)}),
        "residual_map": SeriesSpec({"map": ((64, 64), "f4")}, compress=True),
        "entropy": SeriesSpec({"per_layer": f(6), "saturation": f(6)})})
    n = 0
    for s in range(STEPS):
        if s % 100 == 0:
            w.append("metrics", s, loss=1.0, loss_res=1.0, loss_ic=1.0, res_mse=1.0,
                     rel_l2=1.0 / (1 + s / 1000), lr=1e-3, wall_time=s * 0.03)
        if snr_c.due(s):
            level = 1.2 if s < 150 else (-0.6 if s < 91_700 else 0.4)
            g = 10 ** (level + rng.normal(0, 0.5))
            w.append("snr", s, **{"global": g, "per_layer": np.full(7, g), "order": 0.5,
                                  "order_per_layer": np.full(7, 0.5), "adam": 1.0, "adam_step": 1.0})
            w.append("residual", s, homogeneity=0.5, homogeneity_weights=np.nan)
            n += 1
        if ent_c.due(s):
            w.append("entropy", s, per_layer=np.full(6, 14.0), saturation=np.full(6, 0.1))
        if map_c.due(s):
            w.append("residual_map", s, map=rng.random((64, 64)))
    w.close("done", final_rel_l2=0.01, final_loss=1e-4)
    return n


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="pinn-bench-analyze-"))
    n = write_run(folder / "run.h5")
    t0 = time.perf_counter()
    code = analyze([str(folder), "--no-figures"])
    elapsed = time.perf_counter() - t0
    s = json.loads((folder / "analysis" / "summary.json").read_text())["phases"]
    print(f"{n} SNR records over {STEPS} steps; transitions at 150 and 91700")
    print(f"found: fitting -> diffusion at {s['fitting_to_diffusion']['step']}, "
          f"total diffusion at {s['total_diffusion']['step']} (exit {code})")
    print(f"pinn-analyze --no-figures: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
