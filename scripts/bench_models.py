"""Step time of each architecture relative to the plain MLP of the same width and depth.

One training step on the Allen-Cahn residual r = u_t - 1e-4 u_xx + 5 u^3 - 5 u at N random
points: forward, u_t, u_x, u_xx by nested torch.autograd.grad, mean(r^2), backward, Adam step.
Every model is differentiated the same way (nested autograd, also for the MLP), and all of one
size run alternately in one process; printed: the median ms over ``--rounds`` rounds after one
warm-up round, and the ratio to ``mlp``.

Sizes ("depth x width, points"): small 4 x 64 at 2,560 points, paper 6 x 128 at 25,600. The
Fourier models use width / 2 frequencies (embedding as wide as the hidden layers) and Allen-Cahn's
periodic x; PirateNet gets max(1, round(depth / 3)) blocks, about as many dense layers on its
path as the MLP has. ``mats`` is the number of weight matrices, ``params`` the trainable count.

    OMP_NUM_THREADS=1 python scripts/bench_models.py [--sizes small,paper] [--rounds 5]
"""
from __future__ import annotations

import argparse

import torch

from benchlib import alternating
from pinn_cli.models.fourier_mlp import FourierMLP
from pinn_cli.models.mlp import MLP
from pinn_cli.models.modified_mlp import ModifiedMLP
from pinn_cli.models.pirate import PirateNet

SIZES = {"small": (4, 64, 2560), "paper": (6, 128, 25600)}


def models(depth: int, width: int) -> dict[str, torch.nn.Module]:
    """The architectures at one size, (t, x) -> u, x periodic with period 2 where embedded."""
    emb = dict(embedding=dict(features=width // 2, periodic_axes=[1], periods=[2.0]))
    blocks = max(1, round(depth / 3))
    torch.manual_seed(0)
    return {
        "mlp": MLP(2, 1, depth=depth, width=width),
        "fourier_mlp": FourierMLP(2, 1, depth=depth, width=width, **emb),
        "modified_mlp": ModifiedMLP(2, 1, depth=depth, width=width),
        "modified_mlp fourier rwf": ModifiedMLP(2, 1, depth=depth, width=width, rwf=dict(enabled=True), **emb),
        f"pirate ({blocks} blocks)": PirateNet(2, 1, blocks=blocks, width=width, **emb),
        f"pirate ({blocks} blocks) rwf": PirateNet(2, 1, blocks=blocks, width=width, rwf=dict(enabled=True), **emb),
    }


def make_step(model: torch.nn.Module, x: torch.Tensor, eps: float = 1e-4):
    """-> a function doing one Adam step on mean(r^2) at the points x (N, 2)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        xr = x.detach().requires_grad_(True)
        u = model(xr)[:, 0]                                                   # (N,)
        du = torch.autograd.grad(u.sum(), xr, create_graph=True)[0]           # (N, 2)
        u_xx = torch.autograd.grad(du[:, 1].sum(), xr, create_graph=True)[0][:, 1]
        r = du[:, 0] - eps * u_xx + 5 * u**3 - 5 * u                           # (N,)
        r.square().mean().backward()
        opt.step()

    return step


def bench(size: str, rounds: int) -> None:
    depth, width, n = SIZES[size]
    torch.manual_seed(1)
    x = torch.rand(n, 2) * torch.tensor([1.0, 2.0]) - torch.tensor([0.0, 1.0])  # (N, 2): t, x
    nets = models(depth, width)
    times = alternating({k: make_step(m, x) for k, m in nets.items()}, rounds)
    print(f"\n{size}: depth {depth} x width {width}, {n} points, {rounds} rounds, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"{'model':28s} {'mats':>4s} {'params':>8s} {'median ms':>10s} {'vs mlp':>7s}")
    for k, m in nets.items():
        params = sum(p.numel() for p in m.parameters())
        print(f"{k:28s} {len(m.weight_matrices()):4d} {params:8d} {times[k] * 1e3:10.1f} "
              f"{times[k] / times['mlp']:7.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="small,paper", help="comma-separated: small, paper")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    for size in args.sizes.split(","):
        bench(size, args.rounds)


if __name__ == "__main__":
    main()
