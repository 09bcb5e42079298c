"""Ways to get u, u_t, u_x, u_xx and the parameter gradients of an Allen-Cahn loss, side by side.

Each formulation computes the same loss, mean(r^2) with r = u_t - 1e-4 u_xx + 5 u^3 - 5 u, over
the collocation points in chunks of ``--chunk`` points, and backpropagates it to the parameters.
They run alternately in one process (median of ``--steps`` after warm-up) and each is checked
against nested autograd: relative deviation of the residual and of the parameter gradients.

- ``autograd``: nested torch.autograd.grad (pinn-cli's default engine on ordinary steps);
- ``streams``: pinn-cli's forward derivative streams with the fused activation Function;
- ``streams, torch.compile``: the same streams written with plain tensor ops, under
  torch.compile (inductor may fuse each layer's elementwise work, forward and backward);
  skipped with a one-line reason when the compiler is not usable here;
- ``func.jvp``: torch.func forward-over-forward jvp along e_x (u, u_x, u_xx) and a jvp along e_t;
- ``func.hessian``: torch.func vmap of jacrev/hessian per point (shown on a slice of the points,
  ``--hessian-points``, scaled to the full set: it is far slower);
- ``autograd, matmul precision high``: nested autograd with
  ``torch.set_float32_matmul_precision("high")`` over the whole step (TF32 on CUDA GPUs that have
  it; on a CPU it may allow bf16 passes where the backend supports them).

    python scripts/bench_formulations.py [--steps 10] [--device cpu] [--no-compile] [--profile]

``--profile`` ends with torch.profiler's table of the nested-autograd step (pinn-cli's default on
ordinary steps): where its time goes, by operator.
"""
from __future__ import annotations

import argparse
import contextlib
import time

import torch
from torch.func import functional_call, hessian, jacrev, jvp, vmap

from benchlib import alternating
from pinn_cli.fields import Field
from pinn_cli.models import MLP

EPS = 1e-4


def residual(u, u_t, u_xx):
    return u_t - EPS * u_xx + 5 * u**3 - 5 * u


def loss_over_chunks(res_fn, x: torch.Tensor, chunk: int) -> torch.Tensor:
    """mean(r^2) over all points, one chunk's residual at a time (one graph, one backward)."""
    return sum(res_fn(c).square().sum() for c in x.split(chunk)) / len(x)


def field_residual(model, engine, compiled=False):
    """The residual through pinn-cli's Field (``res.field`` tells whether compilation held)."""
    field = Field(model, ("t", "x"), engine, compiled)

    def res(x):
        d = field.derivatives(x, ("u_t", "u_xx"))
        return residual(d.u, d.u_t, d.u_xx)
    res.field = field
    return res


def jvp_residual(model):
    def f(x):
        return functional_call(model, dict(model.named_parameters()), (x,))[:, 0]

    def res(x):
        e_t, e_x = torch.zeros_like(x), torch.zeros_like(x)
        e_t[:, 0], e_x[:, 1] = 1, 1
        (u, _), (_, u_xx) = jvp(lambda y: jvp(f, (y,), (e_x,)), (x,), (e_x,))
        _, u_t = jvp(f, (x,), (e_t,))
        return residual(u, u_t, u_xx)
    return res


def hessian_residual(model):
    def f(y):                                                    # (2,) -> ()
        return functional_call(model, dict(model.named_parameters()), (y[None],))[0, 0]

    def res(x):
        u = vmap(f)(x)
        u_t = vmap(jacrev(f))(x)[:, 0]
        u_xx = vmap(hessian(f))(x)[:, 1, 1]
        return residual(u, u_t, u_xx)
    return res


@contextlib.contextmanager
def matmul_precision(precision: str):
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(old)


def step(model, res_fn, x, chunk, precision: str = "highest") -> None:
    """What is timed: the loss over all points and its backward, at a float32 matmul precision."""
    with matmul_precision(precision):
        model.zero_grad(set_to_none=True)
        loss_over_chunks(res_fn, x, chunk).backward()


def run(model, res_fn, x, chunk, precision: str = "highest"):
    """Residual (N,) and flat parameter gradient of one formulation."""
    step(model, res_fn, x, chunk, precision)
    with matmul_precision(precision):
        r = torch.cat([res_fn(c).detach() for c in x.split(chunk)])
    return r, torch.cat([p.grad.flatten() for p in model.parameters()])


def rel(a, b) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--points", type=int, default=25600)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--hessian-points", type=int, default=2048)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.manual_seed(0)
    model = MLP(2, depth=args.depth, width=args.width).to(dev)
    x = (torch.rand(args.points, 2, device=dev) * torch.tensor([1.0, 2.0], device=dev)
         - torch.tensor([0.0, 1.0], device=dev))                             # (N, 2): t, x
    forms = {"autograd (nested grad)": field_residual(model, "autograd"),
             "streams (fused Function)": field_residual(model, "streams"),
             "func.jvp (forward-over-forward)": jvp_residual(model)}
    precision = {name: "highest" for name in forms}
    forms["autograd, matmul precision high"] = forms["autograd (nested grad)"]
    precision["autograd, matmul precision high"] = "high"
    if not args.no_compile:
        t0 = time.perf_counter()
        fn = field_residual(model, "streams", compiled=True)
        run(model, fn, x, args.chunk)                      # compiles, or warns and goes eager
        if fn.field.compiled:
            forms["streams, torch.compile"] = fn
            precision["streams, torch.compile"] = "highest"
            print(f"torch.compile: first call (compilation) {time.perf_counter() - t0:.1f} s")
        else:
            print("torch.compile skipped: not usable here (the warning above says why)")
    ref_r, ref_g = run(model, forms["autograd (nested grad)"], x, args.chunk)
    print(f"torch {torch.__version__}, {dev}, {torch.get_num_threads()} threads; depth "
          f"{args.depth}, width {args.width}, {args.points} points, chunks of {args.chunk}")
    for name, fn in forms.items():
        r, g = run(model, fn, x, args.chunk, precision[name])
        print(f"  {name:<34} deviation from autograd: residual {rel(r, ref_r):.1e}, "
              f"gradients {rel(g, ref_g):.1e}")
    steps = {name: (lambda fn=fn, p=precision[name]: step(model, fn, x, args.chunk, p))
             for name, fn in forms.items()}
    med = alternating(steps, args.steps, dev, args.warmup)
    xs = x[:args.hessian_points]
    hes = alternating({"h": lambda: step(model, hessian_residual(model), xs, args.chunk)},
                      max(2, args.steps // 3), dev, 1)["h"] * len(x) / len(xs)
    base = med["autograd (nested grad)"]
    print("median forward+backward per step (loss over all points):")
    for name, t in [*med.items(), ("func.hessian (vmap, scaled)", hes)]:
        print(f"  {name:<34} {t * 1e3:9.1f} ms   {base / t:5.2f}x autograd")
    if args.profile:
        with torch.profiler.profile() as prof:
            for _ in range(3):
                step(model, forms["autograd (nested grad)"], x, args.chunk)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
