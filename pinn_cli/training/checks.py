"""A problem's own outputs checked on a few points before the run file is opened.

A PDE written by a user can return a residual of the wrong shape, ask for a derivative of an
output it does not have, or raise on its own; found at the first step, such a mistake used to end
in a traceback (or, with diagnostics off, to train on half the points). ``check_outputs``
evaluates the residual and every condition term on the first few points of each term, once, and
turns what is wrong into one line naming the PDE (exit 2, before training). So are points that are
NaN or inf (a sampler fed a bad coefficient), and a residual or condition that is NaN or inf where
the network itself is finite (a coefficient read as NaN from a data file, a division by zero): the
loss would be NaN at the first step, and the run would end as diverged with the cause unsaid.
"""
from __future__ import annotations

import torch

from pinn_cli.errors import ConfigError
from pinn_cli.training.build import PluginError

FEW = 4


def check_outputs(pde, field, points: dict, target: str) -> None:
    """Residual (n,) or (n, q) at n = FEW interior points; each condition term likewise."""
    for term, v in points.items():
        bad = (~torch.isfinite(v).all(dim=1)).nonzero()
        if len(bad):
            raise PluginError("pde", target, ValueError(
                f"its sample() gave NaN or inf points in term {term!r} ({len(bad)} of {len(v)}, "
                f"first at row {int(bad[0])})"))
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
    for term, r in shapes.items():
        if not bool(torch.isfinite(r).all()):
            with torch.no_grad():
                net_ok = bool(torch.isfinite(field(few[term])).all())
            if net_ok:
                what = "residual" if term == "res" else f"condition term {term!r}"
                raise PluginError("pde", target, ValueError(
                    f"its {what} is NaN or inf at the first {len(few[term])} points while the "
                    "network is finite there (a coefficient, source or data value?)"))


def check_observables(pde, field, values: dict[str, torch.Tensor], points: torch.Tensor,
                      target: str) -> None:
    """Every observable the reference holds (``values``: name -> (M,)) is one the PDE computes
    from the network (``pde.observables`` at FEW reference points), and is not zero everywhere:
    a reference column named for an observable the PDE has not (``values: {u: T}`` on a problem
    whose output is T) or a zero reference (a coefficient that zeroes the exact solution: the
    relative error divides by its norm) is refused before training."""
    names = list(values)
    try:
        with torch.enable_grad():
            computed = pde.observables(field, points[:FEW])
    except Exception as e:                      # noqa: BLE001 - the PDE's own fault
        raise PluginError("pde", target, e) from e
    unknown = [k for k in names if k not in computed]
    if unknown:
        raise ConfigError("pde.reference.values", unknown[0],
                          f"an observable {type(pde).__name__} computes ({', '.join(computed)})")
    for k, v in values.items():
        why = ("holds no values" if v.numel() == 0 else "holds NaN or inf" if not bool(torch.isfinite(v).all())
               else "is zero everywhere, so its relative error is undefined (a coefficient that "
               "zeroes the solution?)" if not bool(v.abs().max() > 0) else None)
        if why:
            raise PluginError("pde", target, ValueError(f"its reference {k!r} {why}"))
