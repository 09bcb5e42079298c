"""Derivatives by order and by model: derivative streams (Taylor mode) against nested autograd.

For each model and each order k = 1..4, one evaluation of every partial derivative of order k of
u(x, y) (with the lower ones the streams need) at N random points, a loss mean(sum_alpha
d_alpha u^2) and its backward: what a training step does with a k-th order residual, without the
optimizer. Both engines run round-robin in one process (medians of ``--rounds`` after warm-up);
printed: milliseconds and the ratio autograd / streams (> 1: the streams are faster).

    OMP_NUM_THREADS=1 python scripts/bench_orders.py [--points 2560] [--rounds 7] [--orders 1,2,3,4]
"""
from __future__ import annotations

import argparse
import itertools

import torch

from benchlib import alternating
from pinn_cli.fields import Field
from pinn_cli.models import MLP
from pinn_cli.models.fourier_mlp import FourierMLP
from pinn_cli.models.modified_mlp import ModifiedMLP
from pinn_cli.models.pirate import PirateNet


def models(depth: int, width: int) -> dict[str, torch.nn.Module]:
    """The shipped architectures at one size, (x, y) -> u; the embeddings width / 2 features."""
    emb = dict(embedding=dict(features=width // 2))
    torch.manual_seed(0)
    return {
        "mlp": MLP(2, 1, depth=depth, width=width),
        "mlp sin": MLP(2, 1, depth=depth, width=width, activation="sin"),
        "fourier_mlp": FourierMLP(2, 1, depth=depth, width=width, **emb),
        "fourier_mlp rwf periodic": FourierMLP(2, 1, depth=depth, width=width, rwf=dict(enabled=True),
                                               embedding=dict(features=width // 2, periodic_axes=[1], periods=[2.0])),
        "modified_mlp": ModifiedMLP(2, 1, depth=depth, width=width),
        "pirate (1 block)": PirateNet(2, 1, blocks=1, width=width, **emb),
    }


def names_of_order(k: int) -> tuple[str, ...]:
    """Every partial derivative of order k of u(x, y): u_x.. u_xx, u_xy, u_yy ..."""
    return tuple("u_" + "".join(c) for c in itertools.combinations_with_replacement("xy", k))


def make_step(model, engine: str, x: torch.Tensor, names):
    field = Field(model, ("x", "y"), engine)

    def step():
        model.zero_grad(set_to_none=True)
        d = field.derivatives(x, names)
        sum(d[n].square().mean() for n in names).backward()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2560)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--orders", default="1,2,3,4")
    ap.add_argument("--models", default="", help="comma-separated names (default: all)")
    args = ap.parse_args()
    torch.manual_seed(1)
    x = torch.rand(args.points, 2) * 2 - 1                                         # (N, 2)
    nets = models(args.depth, args.width)
    chosen = args.models.split(",") if args.models else list(nets)
    orders = [int(k) for k in args.orders.split(",")]
    print(f"{args.depth} x {args.width}, {args.points} points, {torch.get_num_threads()} thread(s), "
          f"median of {args.rounds} alternated rounds; ratio = autograd / streams")
    print(f"{'model':26s} {'order':>5s} {'streams ms':>11s} {'autograd ms':>12s} {'ratio':>6s}")
    for name in chosen:
        for k in orders:
            names = names_of_order(k)
            steps = {e: make_step(nets[name], e, x, names) for e in ("streams", "autograd")}
            med = alternating(steps, args.rounds)
            print(f"{name:26s} {k:5d} {med['streams'] * 1e3:11.1f} {med['autograd'] * 1e3:12.1f} "
                  f"{med['autograd'] / med['streams']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
