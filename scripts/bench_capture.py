"""The SNR-capturing step over a plain step, per model; the cavity step over the Burgers step.

Every variant is a whole training step (``Trainer.step``: residuals, backward, Adam) of a Trainer
built from overrides, all variants timed round-robin in one process (medians of ``--rounds``
after warm-up, so that the machine's drift hits all alike), printed as ratios:

- ``snr``: per model (mlp, fourier_mlp, modified_mlp, pirate; with rwf and an exact periodic
  axis), the step that captures the batch-gradient SNR (B = N / 256 batches) over the plain
  step, on the default Burgers problem (second order) and on the lid-driven cavity (third
  order);
- ``order``: the cavity step (third derivatives of the stream function) over the Burgers step of
  the same network and points, for each engine the cavity can run on.

The network is depth x width (4 x 64) on ``--points`` (2,560) collocation points, float32,
``--threads`` (1) threads.

    OMP_NUM_THREADS=1 python scripts/bench_capture.py [order|snr|both] [--rounds 9] [--points 2560]
                                                      [--models mlp,pirate] [--engines streams]
"""
from __future__ import annotations

import argparse

import torch

from benchlib import alternating, trainer

CAVITY = ["pde=lid_driven_cavity", "pde.re=100", "pde.n_boundary=64", "pde.reference.n=16"]
MODELS = {
    "mlp": ["model=mlp"],
    "fourier_mlp": ["model=fourier_mlp"],
    "fourier_mlp rwf": ["model=fourier_mlp", "model.rwf.enabled=true"],
    "modified_mlp": ["model=modified_mlp"],
    "modified_mlp fourier rwf": ["model=modified_mlp", "model.embedding.features=32", "model.rwf.enabled=true"],
    "pirate": ["model=pirate", "model.blocks=1"],
    "pirate rwf periodic": ["model=pirate", "model.blocks=1", "model.rwf.enabled=true",
                            "model.embedding.periodic_axes=[1]", "model.embedding.periods=[2.0]"],
}


def build(args, *overrides):
    """A Trainer of the benchmark's size with ``overrides``; its SNR batch count B."""
    size = [f"pde.n_collocation={args.points}", f"threads={args.threads}", "diagnostics=basic",
            "iterations=1000000", "device=cpu"]
    tr = trainer(size + list(overrides))
    return tr, tr.recorder.batches


def sized(model: list[str], depth: int, width: int) -> list[str]:
    """The model's overrides at the benchmark's size (PirateNet's size is its blocks)."""
    out = model + [f"model.width={width}"]
    return out if "model=pirate" in model else out + [f"model.depth={depth}"]


def bench_order(args) -> None:
    net = sized(["model=mlp"], args.depth, args.width)
    burgers, _ = build(args, *net)
    steps = {"burgers (default engine)": lambda: burgers.step(0)}
    for engine in args.engines.split(","):
        cav, _ = build(args, *net, *CAVITY, f"engine={engine}")
        steps[f"cavity engine={engine}"] = (lambda t: lambda: t.step(0))(cav)
    med = alternating(steps, args.rounds, warmup=2)
    print(f"\ncavity vs Burgers step: mlp {args.depth} x {args.width}, {args.points} points, "
          f"{torch.get_num_threads()} thread(s), median of {args.rounds} alternated rounds")
    base = med["burgers (default engine)"]
    for name, t in med.items():
        print(f"  {name:28s} {t * 1e3:8.1f} ms  {t / base:5.2f}x the Burgers step")


def bench_snr(args) -> None:
    for problem, pde in (("burgers", []), ("cavity", CAVITY)):
        print(f"\nSNR step over plain step, {problem}: {args.depth} x {args.width}, {args.points} "
              f"points, {torch.get_num_threads()} thread(s), median of {args.rounds} alternated rounds")
        for name, model in MODELS.items():
            if args.models and name not in args.models.split(","):
                continue
            tr, b = build(args, *sized(model, args.depth, args.width), *pde)
            med = alternating({"plain": lambda: tr.step(0), "snr": lambda: tr.step(0, b)},
                              args.rounds, warmup=2)
            print(f"  {name:26s} plain {med['plain'] * 1e3:8.1f} ms  snr {med['snr'] * 1e3:8.1f} ms"
                  f"  ratio {med['snr'] / med['plain']:5.2f}  (B = {b})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="?", default="both", choices=["order", "snr", "both"])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--points", type=int, default=2560)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--engines", default="auto,streams,autograd", help="the cavity's engines")
    ap.add_argument("--models", default="", help="comma-separated names for snr (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.what in ("order", "both"):
        bench_order(args)
    if args.what in ("snr", "both"):
        bench_snr(args)


if __name__ == "__main__":
    main()
