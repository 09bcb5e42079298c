"""One training step, side by side: a minimal hand-written PyTorch step (nested autograd.grad,
written here as the baseline) against pinn-cli's own step with diagnostics off.

Both take the same network weights and points (Allen-Cahn residual + initial condition, Adam),
run alternately in one process, and report the median of ``--steps`` steps after warm-up, the
speed-up of pinn-cli over the baseline (`speed-up: X.XX`) and the peak memory of each.

    python scripts/bench_step.py [--device cuda] [--steps 10] [--size paper|small|both]
"""
from __future__ import annotations

import argparse
import gc
import resource
import statistics
import time

import torch

from benchlib import sync, trainer

SIZES = {"paper": (6, 128, 25600), "small": (4, 64, 2048)}


def baseline_step(model, opt, x, x_ic, u_ic, eps=1e-4):
    """The plain approach: derivatives by nested torch.autograd.grad."""
    opt.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_(True)
    u = model(x)[:, 0]
    du = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    u_t, u_x = du[:, 0], du[:, 1]
    u_xx = torch.autograd.grad(u_x.sum(), x, create_graph=True)[0][:, 1]
    r = u_t - eps * u_xx + 5 * u**3 - 5 * u
    loss = r.square().mean() + (model(x_ic)[:, 0] - u_ic).square().mean()
    loss.backward()
    opt.step()
    return loss


def peak_bytes(device, fn) -> int:
    """Peak memory of fn(): CUDA allocator peak, or growth of this process's max RSS on CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        fn()
        return torch.cuda.max_memory_allocated()
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024


def bench(size: str, device: str, steps: int, warmup: int) -> None:
    depth, width, n = SIZES[size]
    tr = trainer([f"pde=allen_cahn", f"model.depth={depth}", f"model.width={width}",
                  f"pde.n_collocation={n}", "diagnostics=off", f"device={device}"])
    dev = tr.device
    base_model = type(tr.model)(2, depth=depth, width=width).to(dev, tr.dtype)
    base_model.load_state_dict(tr.model.state_dict())
    base_opt = torch.optim.Adam(base_model.parameters(), lr=1e-3)
    x, x_ic = tr.points["res"], tr.points["ic"]
    u_ic = x_ic[:, 1] ** 2 * torch.cos(torch.pi * x_ic[:, 1])
    runs = {"baseline (nested autograd)": lambda: baseline_step(base_model, base_opt, x, x_ic, u_ic),
            f"pinn-cli ({tr.field.engine})": lambda: tr.step()}
    # peak memory first, each on a fresh high-water mark where the platform allows it
    peaks = {name: peak_bytes(dev, fn) for name, fn in reversed(list(runs.items()))}
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    times = {name: [] for name in runs}
    for _ in range(steps):                       # alternate, so drift hits both alike
        for name, fn in runs.items():
            sync(dev)
            t0 = time.perf_counter()
            fn()
            sync(dev)
            times[name].append(time.perf_counter() - t0)
    print(f"\n{size} network: depth {depth}, width {width}, {n} points, {dev}, "
          f"{torch.get_num_threads()} threads, median of {steps} steps after {warmup} warm-up")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name in runs:
        print(f"  {name:<28} {med[name] * 1e3:9.1f} ms   peak memory {peaks[name] / 2**20:8.1f} MiB")
    names = list(runs)
    print(f"  speed-up: {med[names[0]] / med[names[1]]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--size", default="both", choices=["paper", "small", "both"])
    args = ap.parse_args()
    print(f"torch {torch.__version__}")
    for size in (["small", "paper"] if args.size == "both" else [args.size]):
        bench(size, args.device, args.steps, args.warmup)


if __name__ == "__main__":
    main()
