"""L-BFGS: torch's ``torch.optim.LBFGS`` with the strong-Wolfe line search.

One pinn-cli iteration is one ``optimizer.step(closure)``: up to ``max_iter`` L-BFGS iterations,
each along the direction d = -H g of the two-loop recursion over the last ``history_size`` pairs
(s_j = x_{j+1} - x_j, y_j = g_{j+1} - g_j), H_0 = (s'y / y'y) I, with a step t satisfying the
strong Wolfe conditions (sufficient decrease, c1 = 1e-4; curvature |g(t)'d| <= 0.9 |g'd|), tried
first at t = lr (at min(1, 1 / |g|_1) lr on the very first iteration), and at most ``max_eval``
loss evaluations in all. The weighting updates on the first evaluation of each pinn-cli iteration
only, so one step's line searches see one fixed loss.

Everything L-BFGS keeps (the pairs, d, t, H_0's scale, the counters ``func_evals`` and
``n_iter``) is in ``optimizer.state_dict()``: a checkpoint resumes it bit for bit.

:func:`stop_reason` tells, from that state and the counters before a step, why the step ended,
as torch's loop decides it (:data:`STOP_REASONS`).
"""
from __future__ import annotations

from typing import Literal

import torch

from pinn_cli.schema import Count, NonNeg, Positive
from pinn_cli.optimizers.schedules import Scheduled

LineSearch = Literal["strong_wolfe", "none"]

# Why an L-BFGS step stopped (the optimizer probe's ``lbfgs_stop``).
NO_STEP, TOL_GRAD, TOL_CHANGE, MAX_ITER, MAX_EVAL = 0, 1, 2, 3, 4
STOP_REASONS = {
    NO_STEP: "no L-BFGS step (Adam stage, or the final record)",
    TOL_GRAD: "converged: max |grad| <= tolerance_grad",
    TOL_CHANGE: "no progress: step, loss change or directional derivative below tolerance_change",
    MAX_ITER: "max_iter iterations done (the usual end of a step)",
    MAX_EVAL: "max_eval evaluations used up: the line search found no strong-Wolfe step within them",
}


def lbfgs_options(lr: float, max_iter: int, max_eval: int | None, history_size: int,
                  tolerance_grad: float, tolerance_change: float, line_search: str) -> dict:
    """Keyword arguments of ``torch.optim.LBFGS``. max_eval None: 25 per iteration (room for a
    full strong-Wolfe search in each; torch's own default, 1.25 max_iter, leaves a 1-iteration
    step no evaluation for its line search, which then cannot move)."""
    return {"lr": float(lr), "max_iter": int(max_iter),
            "max_eval": int(max_eval) if max_eval is not None else 25 * int(max_iter),
            "history_size": int(history_size), "tolerance_grad": float(tolerance_grad),
            "tolerance_change": float(tolerance_change),
            "line_search_fn": None if line_search == "none" else line_search}


class LBFGS(Scheduled):
    """Builds a ``torch.optim.LBFGS`` and its schedule (constant by default) for given parameters.

    Args:
        lr: the line search's first trial step (the fixed step without one), > 0.
        max_iter: L-BFGS iterations per pinn-cli iteration, >= 1.
        max_eval: loss evaluations per pinn-cli iteration at most; null: 25 max_iter.
        history_size: curvature pairs kept, >= 1.
        tolerance_grad: stop a step when max |grad| falls to this.
        tolerance_change: stop a step when the step, the loss change or the directional
            derivative falls below this.
        line_search: strong_wolfe, or none (a fixed step lr * d: can diverge).
        **schedule: the schedule of lr (:class:`pinn_cli.optimizers.schedules.Scheduled`).
    """

    needs_closure = True

    def __init__(self, lr: Positive = 1.0, max_iter: Count = 1, max_eval: Count | None = None,
                 history_size: Count = 50, tolerance_grad: NonNeg = 1e-7,
                 tolerance_change: NonNeg = 1e-9, line_search: LineSearch = "strong_wolfe",
                 **schedule):
        schedule.setdefault("schedule", "constant")
        super().__init__(**schedule)
        self.options = lbfgs_options(lr, max_iter, max_eval, history_size, tolerance_grad,
                                     tolerance_change, line_search)
        self.check_floor(self.options["lr"])

    def build(self, params):
        """-> (optimizer, scheduler); ``optimizer.step(closure)`` once per iteration."""
        opt = torch.optim.LBFGS(params, **self.options)
        return opt, self.make_schedule(opt)


def lbfgs_counts(opt: torch.optim.LBFGS) -> tuple[int, int]:
    """-> (n_iter, func_evals): L-BFGS iterations and loss evaluations so far."""
    first = opt.param_groups[0]["params"][0]          # torch's L-BFGS keeps its state there
    state = opt.state.get(first, {})                  # .get: never add an entry to the state
    return int(state.get("n_iter", 0)), int(state.get("func_evals", 0))


def stop_reason(opt: torch.optim.LBFGS, before: tuple[int, int]) -> int:
    """Why the last ``opt.step`` ended (a :data:`STOP_REASONS` code), given
    ``before = lbfgs_counts(opt)`` taken before it; torch's tests, in torch's order."""
    n_iter, evals = (a - b for a, b in zip(lbfgs_counts(opt), before))
    if evals == 0:
        return NO_STEP
    if n_iter == 0:                     # returned at entry: the gradient was already small
        return TOL_GRAD
    group = opt.param_groups[0]
    state = opt.state[group["params"][0]]
    d, g = state["d"], state["prev_flat_grad"]                       # (P,), (P,)
    if g.dot(d) > -group["tolerance_change"]:     # broke before its line search
        return TOL_CHANGE
    if n_iter == group["max_iter"]:
        return MAX_ITER
    if evals >= group["max_eval"]:
        return MAX_EVAL
    grads = [p.grad.abs().max() for p in group["params"] if p.grad is not None]   # last evaluation's
    if grads and torch.stack(grads).max() <= group["tolerance_grad"]:
        return TOL_GRAD
    return TOL_CHANGE
