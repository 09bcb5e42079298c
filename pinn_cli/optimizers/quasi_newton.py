"""Dense quasi-Newton optimizers: BFGS and its self-scaled variants, with a strong-Wolfe search.

The optimizer keeps H (P x P), an approximation of the inverse Hessian of the loss in all P
parameters. Each iteration moves along d = -H g by a step t that satisfies the strong Wolfe
conditions (:mod:`pinn_cli.optimizers.line_search`), then updates H from the pair
s = x_new - x, y = g_new - g (skipped when the curvature y's <= 1e-10 |y| |s| is lost). Every
update is of the self-scaled Broyden family (Al-Baali; Urban, Stefanou & Pons 2025):

    H+ = (H - (Hy)(Hy)'/(y'Hy) + phi (y'Hy) v v') / tau + rho s s',
    rho = 1 / (y's),  v = rho s - Hy / (y'Hy),

in O(P^2) per iteration (rank-one updates, no P x P products). With the scalars
    h = rho y'Hy,  b = -t rho s'g  (= s'Bs / y's, B = H^-1),  a = h b - 1 (>= 0),
the ``update`` chooses (phi, tau):

- ``bfgs``: phi = 1, tau = 1: the BFGS inverse update.
- ``ssbfgs``: phi = 1, tau = min(1, 1/b): Al-Baali's self-scaled BFGS (H is enlarged when the
  step found more curvature than H expected).
- ``ssbroyden``: the self-scaled Broyden update of Urban et al. (their "SSBroyden2"):
      rho- = min(1, h (1 - sqrt(a / (1 + a)))),  theta- = (rho- - 1) / a,  theta+ = 1 / rho-,
      theta = max(theta-, min(theta+, (1 - b) / b)),  sigma = 1 + a theta,
      tau = min(min(1, 1/b) sigma^(1/(1-P)), sigma)     where theta <= 0,
      tau = min(1, 1/b) min(sigma^(1/(1-P)), 1/theta)   where theta > 0,
      phi = (1 - theta) / (1 + a theta).
The first update of each (H = I) uses tau = h / (1 + a theta) (theta = 0 for bfgs and ssbfgs):
H is first scaled to the curvature seen, the usual (y's / y'y) I start.

One ``step(closure)`` is up to ``max_iter`` iterations and ``max_eval`` loss evaluations, as
torch's L-BFGS counts them (the first evaluation at the current parameters, where the closure's
weighting updates, then the line searches). Everything the optimizer keeps (H, the direction,
the last gradient, the counters) is in ``state_dict()``: a checkpoint resumes it bit for bit.
The keys ``n_iter``, ``func_evals``, ``d``, ``prev_flat_grad`` are L-BFGS's, so the optimizer
probe tells why a step ended in the same words (:func:`pinn_cli.optimizers.lbfgs.stop_reason`).
"""
from __future__ import annotations

import math
from typing import Literal

import torch

from pinn_cli.errors import ConfigError
from pinn_cli.optimizers.line_search import strong_wolfe
from pinn_cli.schema import Count, NonNeg, Positive
from pinn_cli.optimizers.schedules import Scheduled

Update = Literal["bfgs", "ssbfgs", "ssbroyden"]
NAMES = {"bfgs": "BFGS", "ssbfgs": "SS-BFGS", "ssbroyden": "SS-Broyden"}


def scaling(update: str, h: float, b: float, a: float, n: int, first: bool) -> tuple[float, float]:
    """(phi, tau) of the self-scaled Broyden update (module docstring)."""
    theta = 0.0
    if update == "ssbroyden" and a > 1e-12 and b > 0:
        rho_m = min(1.0, h * (1.0 - math.sqrt(a / (1.0 + a))))
        theta_m = (rho_m - 1.0) / a
        theta_p = 1.0 / rho_m if rho_m > 0 else math.inf
        theta = max(theta_m, min(theta_p, (1.0 - b) / b))
    sigma = 1.0 + a * theta
    phi = (1.0 - theta) / sigma
    if first:
        return phi, h / sigma
    if update == "bfgs":
        return 1.0, 1.0
    scale = min(1.0, 1.0 / b) if b > 0 else 1.0
    if update == "ssbfgs":
        return 1.0, scale
    root = abs(sigma) ** (1.0 / (1.0 - n)) if sigma != 0 else 1.0
    return phi, (min(scale * root, sigma) if theta <= 0 else scale * min(root, 1.0 / theta))


class DenseQuasiNewton(torch.optim.Optimizer):
    """Args:
        params: the parameters (one group; any dtype, float64 in the presets).
        update: bfgs | ssbfgs | ssbroyden (module docstring).
        lr: the line search's first trial step (the first iteration's: min(1, 1/|g|_1) lr).
        max_iter: iterations per ``step``.
        max_eval: loss evaluations per ``step`` at most (None: 25 max_iter).
        tolerance_grad: a step ends when max |g| falls to this.
        tolerance_change: ... when the step, the loss change or g'd falls below this.
    """

    def __init__(self, params, update: str = "ssbroyden", lr: float = 1.0, max_iter: int = 1,
                 max_eval: int | None = None, tolerance_grad: float = 1e-12,
                 tolerance_change: float = 1e-15):
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval or 25 * max_iter,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)
        super().__init__(params, defaults)
        self.update_rule = update
        self._params = self.param_groups[0]["params"]
        self.n = sum(p.numel() for p in self._params)

    # ---- the flat view of the parameters ---------------------------------------------------
    def _flat_grad(self) -> torch.Tensor:                                      # (P,)
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                          for p in self._params])

    def _set(self, x: torch.Tensor) -> None:
        o = 0
        for p in self._params:
            p.copy_(x[o:o + p.numel()].view_as(p))
            o += p.numel()

    def _state(self) -> dict:
        st = self.state[self._params[0]]
        if "H" not in st:
            p0 = self._params[0]
            st.update(H=torch.eye(self.n, dtype=p0.dtype, device=p0.device), n_iter=0,
                      func_evals=0, n_updates=0)
        return st

    @torch.no_grad()
    def step(self, closure):  # type: ignore[override]
        """Up to ``max_iter`` iterations; -> the loss at the parameters the step started from."""
        group, st = self.param_groups[0], self._state()
        closure = torch.enable_grad()(closure)
        first_loss = loss = float(closure())
        st["func_evals"] += 1
        evals, g = 1, self._flat_grad()
        if g.abs().max() <= group["tolerance_grad"]:
            return first_loss
        x = torch.cat([p.detach().reshape(-1) for p in self._params])           # (P,)
        H = st["H"]                                                             # (P, P)
        for _ in range(group["max_iter"]):
            d = -(H @ g)                                                        # (P,)
            gtd = float(g.dot(d))
            if not gtd < 0:                        # H lost positive definiteness: start again
                H.copy_(torch.eye(self.n, dtype=H.dtype, device=H.device))
                st["n_updates"], d = 0, -g
                gtd = float(g.dot(d))
            st["d"], st["prev_flat_grad"] = d, g    # as L-BFGS keeps them: d and the g it came from
            if gtd > -group["tolerance_change"]:
                break
            t0 = (min(1.0, 1.0 / float(g.abs().sum())) if st["n_iter"] == 0 else 1.0) * group["lr"]

            def phi(t: float):
                self._set(x + t * d)
                f = float(closure())
                gt = self._flat_grad()
                return f, float(gt.dot(d)), gt

            t, f_new, g_new, used = strong_wolfe(phi, loss, gtd, t0,
                                                 max_evals=group["max_eval"] - evals)
            evals += used
            st["func_evals"] += used
            st["n_iter"] += 1
            if t == 0:                             # no step decreased the loss enough
                self._set(x)
                break
            s = t * d                                                           # (P,)
            x = x + s
            self._set(x)
            y = g_new - g                                                       # (P,)
            self._update(H, st, s, y, g, t)
            change, loss, g = abs(f_new - loss), f_new, g_new
            if (g.abs().max() <= group["tolerance_grad"] or change < group["tolerance_change"]
                    or float(s.abs().max()) <= group["tolerance_change"]
                    or evals >= group["max_eval"]):
                break
        return first_loss

    def _update(self, H: torch.Tensor, st: dict, s, y, g, t: float) -> None:
        """The self-scaled Broyden update of H in place (module docstring)."""
        ys = float(y.dot(s))
        if not ys > 1e-10 * float(y.norm() * s.norm()):
            return                                 # no curvature along s: keep H
        rho = 1.0 / ys
        Hy = H @ y                                                              # (P,)
        yHy = float(y.dot(Hy))
        if not yHy > 0:
            return
        h, b = rho * yHy, -t * rho * float(s.dot(g))
        a = max(h * b - 1.0, 0.0)
        phi, tau = scaling(self.update_rule, h, b, a, self.n, st["n_updates"] == 0)
        v = rho * s - Hy / yHy                                                  # (P,)
        H.addr_(Hy, Hy, alpha=-1.0 / yHy)
        H.addr_(v, v, alpha=phi * yHy)
        H.div_(tau)
        H.addr_(s, s, alpha=rho)
        st["n_updates"] += 1


def check_memory(n: int, dtype: torch.dtype, limit_gib: float, key: str) -> None:
    """Refuse a dense P x P matrix over ``limit_gib`` before training, in one line."""
    need = n * n * torch.finfo(dtype).bits / 8 / 2**30
    if need > limit_gib:
        raise ConfigError(key, f"{limit_gib:g}", f"at least {need:.1f} GiB: the model's {n:,} "
                          f"parameters need a {n:,} x {n:,} matrix of {need:.1f} GiB; a smaller "
                          "network, a larger limit, or optimizer=lbfgs (memory linear in the "
                          "parameters)")


class QuasiNewton(Scheduled):
    """Builds a :class:`DenseQuasiNewton` and its schedule (constant by default).

    Args:
        update: bfgs | ssbfgs | ssbroyden.
        lr: the line search's first trial step, > 0.
        max_iter: quasi-Newton iterations per pinn-cli iteration, >= 1.
        max_eval: loss evaluations per pinn-cli iteration at most; null: 25 max_iter.
        tolerance_grad: stop a step when max |grad| falls to this.
        tolerance_change: stop a step when the step, the loss change or g'd falls below this.
        max_memory_gib: the largest inverse-Hessian matrix allowed, in GiB (P^2 numbers).
        **schedule: the schedule of lr (:class:`pinn_cli.optimizers.schedules.Scheduled`).
    """

    needs_closure = True

    def __init__(self, update: Update = "ssbroyden", lr: Positive = 1.0, max_iter: Count = 1,
                 max_eval: Count | None = None, tolerance_grad: NonNeg = 1e-12,
                 tolerance_change: NonNeg = 1e-15, max_memory_gib: Positive = 2.0, **schedule):
        schedule.setdefault("schedule", "constant")
        super().__init__(**schedule)
        self.options = dict(update=update, lr=float(lr), max_iter=int(max_iter),
                            max_eval=None if max_eval is None else int(max_eval),
                            tolerance_grad=float(tolerance_grad),
                            tolerance_change=float(tolerance_change))
        self.max_memory_gib = float(max_memory_gib)
        self.check_floor(self.options["lr"])

    def make(self, params, key: str = "optimizer.max_memory_gib") -> DenseQuasiNewton:
        params = list(params)
        check_memory(sum(p.numel() for p in params), params[0].dtype, self.max_memory_gib, key)
        return DenseQuasiNewton(params, **self.options)

    def build(self, params):
        """-> (optimizer, scheduler); ``optimizer.step(closure)`` once per iteration."""
        opt = self.make(params)
        return opt, self.make_schedule(opt)
