"""A problem's own outputs checked on a few points before the run file is opened.

A PDE written by a user can return a residual of the wrong shape, ask for a derivative of an
output it does not have, or raise on its own; found at the first step, such a mistake used to end
in a traceback (or, with diagnostics off, to train on half the points). ``check_outputs``
evaluates the residual and every condition term on the first few points of each term, once, and
turns what is wrong into one line naming the PDE (exit 2, before training).
"""
from __future__ import annotations

import torch

from pinn_cli.training.build import PluginError

FEW = 4


def check_outputs(pde, field, points: dict, target: str) -> None:
    """Residual (n,) or (n, q) at n = FEW interior points; each condition term likewise."""
    few = {k: v[:FEW] for k, v in points.items()}
    try:
        with torch.enable_grad():
            res = pde.residual(field, few["res"])
            conds = pde.conditions(field, few)
    except Exception as e:                      # noqa: BLE001 - the PDE's own fault
        raise PluginError("pde", target, e) from e
    shapes = {"res": res, **conds}
    for term, r in shapes.items():
        n = len(few.get(term, ()))
        if not isinstance(r, torch.Tensor) or r.ndim not in (1, 2) or r.shape[0] != n:
            got = tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__
            what = "residual" if term == "res" else f"condition term {term!r}"
            raise PluginError("pde", target, ValueError(
                f"its {what} at {n} points has shape {got}, expected ({n},) or ({n}, q)"))
    missing = sorted(set(conds) ^ (set(points) - {"res"}))
    if missing:
        raise PluginError("pde", target, ValueError(
            f"conditions() returned terms {sorted(conds)} for the sampled terms "
            f"{sorted(set(points) - {'res'})}"))
