"""One training step, side by side: a minimal hand-written PyTorch step (nested autograd.grad,
written here as the baseline) against pinn-cli's own step with diagnostics off.

Both take the same network weights and points (Allen-Cahn residual + initial condition, Adam),
run alternately in one process, and report the median of ``--steps`` steps after warm-up, the
speed-up of pinn-cli's default step over the baseline (`speed-up: X.XX`) and the peak memory
of each: the first step's working set (graph included) and the whole process's peak, in a fresh
process per variant on the CPU, the allocator's peaks on a GPU. pinn-cli with engine=streams
(forward derivative streams on every step, chunked) is shown too, and with ``--compile`` the
step with compile=true (the streams under torch.compile; compiled during warm-up).

    python scripts/bench_step.py [--device cuda] [--steps 10] [--size paper|small|both] [--compile]
"""
from __future__ import annotations

import argparse
import gc
import subprocess
import sys

import torch

from benchlib import alternating, trainer

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


def baseline(tr, depth: int, width: int):
    """The hand-written step on a copy of trainer ``tr``'s network and on its points (Allen-Cahn,
    Adam at 1e-3) -> a function taking one step."""
    model = type(tr.model)(2, depth=depth, width=width).to(tr.device, tr.dtype)
    model.load_state_dict(tr.model.state_dict())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, x_ic = tr.loss.points["res"], tr.loss.points["ic"]
    u_ic = x_ic[:, 1] ** 2 * torch.cos(torch.pi * x_ic[:, 1])
    return lambda: baseline_step(model, opt, x, x_ic, u_ic)


def peak_bytes(size: str, device: str, name: str) -> tuple[int, int]:
    """Peak memory of one variant's step -> (the step's own peak, the process's peak).

    On a GPU: the allocator's peak during a step above what was allocated before it, and the
    allocator's peak. On the CPU, in a fresh process: the high-water mark of resident memory
    during the FIRST step above the resident memory before it (the step's whole working set,
    graph included: a later step would reuse memory the allocator kept, and hide it), and the
    process's high-water mark."""
    if torch.device(device).type == "cuda":
        runs = variants(size, device, compiled="compile" in name)
        runs[name]()
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        runs[name]()
        peak = torch.cuda.max_memory_allocated()
        return peak - before, peak
    out = subprocess.run([sys.executable, __file__, "--peak-of", name, "--size", size,
                          "--device", device], capture_output=True, text=True, check=True)
    step, total = out.stdout.split()[-2:]
    return int(step), int(total)


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def _peak_child(size: str, device: str, name: str) -> None:
    """Print the first step's peak resident memory above the resident memory before it, and
    the process's peak resident memory, in bytes."""
    fn = variants(size, device, compiled="compile" in name, only=name)[name]
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:      # reset the high-water mark (VmHWM)
        f.write("5")
    before = _status_kib("VmRSS")
    fn()
    print((_status_kib("VmHWM") - before) * 1024, _status_kib("VmHWM") * 1024)


NAMES = ("baseline (nested autograd)", "pinn-cli (default)", "pinn-cli (engine=streams)",
         "pinn-cli (compile=true)")


def variants(size: str, device: str, compiled: bool = False, only: str | None = None) -> dict:
    """name -> one training step: the baseline, and pinn-cli's step with each engine
    (``only``: build that one alone, for a clean memory measurement)."""
    depth, width, n = SIZES[size]
    common = ["pde=allen_cahn", f"model.depth={depth}", f"model.width={width}",
              f"pde.n_collocation={n}", "diagnostics=off", f"device={device}", "iterations=100000"]
    want = [only] if only else list(NAMES[:4 if compiled else 3])
    tr = trainer(common)                               # the default: engine auto, chunked
    runs = {}
    if NAMES[0] in want:
        runs[NAMES[0]] = baseline(tr, depth, width)
    extra = {NAMES[1]: [], NAMES[2]: ["engine=streams"], NAMES[3]: ["compile=true"]}
    for name in want[1 if NAMES[0] in want else 0:]:
        t = tr if name == NAMES[1] else trainer(common + extra[name])
        runs[name] = (lambda t: lambda: t.step(0))(t)
    return runs


def bench(size: str, device: str, steps: int, warmup: int, compiled: bool) -> None:
    depth, width, n = SIZES[size]
    runs = variants(size, device, compiled)
    dev = torch.device(device)
    med = alternating(runs, steps, dev, warmup)          # round-robin: drift hits all alike
    peaks = {name: peak_bytes(size, device, name) for name in runs}
    print(f"\n{size} network: depth {depth}, width {width}, {n} points, {dev}, "
          f"{torch.get_num_threads()} threads, median of {steps} steps after {warmup} warm-up")
    print(f"  {'':<30} {'ms/step':>9}   {'step peak':>10} {'process peak':>13}  (MiB)")
    for name in runs:
        step, total = peaks[name]
        print(f"  {name:<30} {med[name] * 1e3:9.1f}   {step / 2**20:10.1f} {total / 2**20:13.1f}")
    names = list(runs)
    for name in names[2:]:
        print(f"  {name} over the baseline: {med[names[0]] / med[name]:.2f}x")
    print(f"  speed-up: {med[names[0]] / med[names[1]]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--size", default="both", choices=["paper", "small", "both"])
    ap.add_argument("--compile", action="store_true", help="add the compile=true step")
    ap.add_argument("--peak-of", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peak_of:
        return _peak_child(args.size, args.device, args.peak_of)
    print(f"torch {torch.__version__}")
    for size in (["small", "paper"] if args.size == "both" else [args.size]):
        bench(size, args.device, args.steps, args.warmup, args.compile)


if __name__ == "__main__":
    main()
