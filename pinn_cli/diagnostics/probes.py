"""The probes pinn-cli ships: each turns one pure function into one run-file group.

Every probe reads the run through the read-only ``ctx`` (:class:`pinn_cli.training.context.RunContext`).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from pinn_cli.analysis.online import OnlinePhases
from pinn_cli.config.schema import Count, Fraction
from pinn_cli.diagnostics.adam import adam_snr, has_adam_state
from pinn_cli.diagnostics.base import Probe, host
from pinn_cli.diagnostics.entropy import hidden_entropy
from pinn_cli.diagnostics.residuals import homogeneity, magnitude, residual_map
from pinn_cli.diagnostics.snr import check_batches, snr_stats
from pinn_cli.errors import ConfigError
from pinn_cli.pdes.base import grid_points
from pinn_cli.runfile import SeriesSpec


PHASES = ("unknown", "fitting", "diffusion", "total_diffusion")
ACTIONS = ("none", "decay_lr", "next_stage", "stop")


class SNRProbe(Probe):
    """/snr: batch-gradient SNR (global, per layer), gradient order; Adam's SNR and mean step
    where the optimizer keeps Adam's moments (absent otherwise); and the live phase: the causal
    detector (:class:`pinn_cli.analysis.online.OnlinePhases`) fed every record, its phase
    (``phase``: 0 unknown, 1 fitting, 2 diffusion, 3 total diffusion), its latest smoothed SNR,
    and the action taken when a transition is confirmed (``action``: index into ACTIONS).

    Args:
        batches: B, the number of equal batches of collocation points (divides N), or ``auto``:
            batches of the size closest to 256 points (the paper's).
        live: run the online phase detector.
        on_total_diffusion: what to do when total diffusion is confirmed: ``none``, ``decay_lr``
            (multiply every learning rate by ``lr_factor``), ``next_stage`` (a staged optimizer's
            next stage), ``stop`` (end the run as done).
        lr_factor: the factor of ``decay_lr``.
    """

    needs_capture = True

    def __init__(self, batches: Count | Literal["auto"] = 100, live: bool = True,
                 on_total_diffusion: Literal[ACTIONS] = "none", lr_factor: Fraction = 0.1,
                 **cadence):
        super().__init__(**cadence)
        self.batches, self.live = batches, live
        self.on_total, self.lr_factor = on_total_diffusion, lr_factor
        self.online = OnlinePhases() if live else None
        self.actions: list[str] = []

    def check(self, pde, model):
        if self.batches == "auto":
            self.batches = auto_batches(pde.n_collocation)
        check_batches(pde.n_collocation, self.batches)

    def spec(self, ctx):
        n_w = len(ctx.model.weight_matrices())
        fields = {"global": ((), "f8"), "per_layer": ((n_w,), "f8"), "order": ((), "f8"),
                  "order_per_layer": ((n_w,), "f8")}
        if has_adam_state(ctx.optimizer):
            fields.update({"adam": ((), "f8"), "adam_step": ((), "f8")})
        if self.live:
            fields.update({"phase": ((), "i1"), "smooth": ((), "f8"), "action": ((), "i1")})
        return SeriesSpec(fields)

    def record(self, ctx, state):
        values = snr_stats(state.batch_moments)
        if has_adam_state(ctx.optimizer):
            adam = adam_snr(ctx.optimizer)
            values.update(adam=adam["snr"], adam_step=adam["mean_step"])
        rec = host(values)
        if self.live:
            rec.update(self._live(state.step, float(rec["global"])))
        return rec

    def _live(self, step: int, snr: float) -> dict:
        ps = self.online.update(step, snr)
        action = "none"
        if any(t.kind == "total_diffusion" for t in ps.just_confirmed) and self.on_total != "none":
            action = self.on_total
            self.actions.append(action)
        return {"phase": PHASES.index(ps.phase), "action": ACTIONS.index(action),
                "smooth": np.nan if ps.smooth is None else ps.smooth}

    def restore(self, data: dict) -> None:
        """A resumed run: the detector replays the records kept (the same state, exactly)."""
        if self.live and len(data.get("step", ())):
            self.online = OnlinePhases.replay(data["step"], data["global"])

    def status(self) -> str:
        if not self.live:
            return ""
        ps = self.online.state()
        onsets = ", ".join(f"{k} {v}" for k, v in (("diffusion", ps.fitting_end),
                                                   ("total", ps.total_diffusion)) if v is not None)
        snr = "-" if ps.smooth is None else f"{ps.smooth:.2g}"
        return f"phase {ps.phase} (SNR~{snr}{'; ' + onsets if onsets else ''})"


def auto_batches(n: int) -> int:
    """The number of equal batches whose size is closest to 256 points (at least 2 batches)."""
    divisors = [b for b in range(2, n + 1) if n % b == 0]
    if not divisors:
        raise ConfigError("diagnostics.snr.batches", "auto", f"pde.n_collocation={n} with a divisor >= 2")
    return min(divisors, key=lambda b: abs(n / b - 256))


class ResidualProbe(Probe):
    """/residual: homogeneity of |r| at the collocation points, and of the weighting's per-point
    weights of the residual term (NaN without them).

    Args:
        bins: cells per axis of the homogeneity grid.
    """

    def __init__(self, bins: Count = 10, **cadence):
        super().__init__(**cadence)
        self.bins = bins

    def spec(self, ctx):
        return SeriesSpec({"homogeneity": ((), "f8"), "homogeneity_weights": ((), "f8")})

    def record(self, ctx, state):
        x, bounds = ctx.objective.points["res"], ctx.pde.bounds
        phi = homogeneity(x, magnitude(state.residuals["res"]), bounds, self.bins)
        lam = ctx.weighting.weights().get("res")
        phi_w = (homogeneity(x, magnitude(lam.detach()), bounds, self.bins) if lam is not None
                 else phi.new_tensor(np.nan))
        return host({"homogeneity": phi, "homogeneity_weights": phi_w})


class ResidualMapProbe(Probe):
    """/residual_map: |r| on a regular grid over a 2-D domain (axes in /grid), gzip-compressed.

    Args:
        grid: points per axis, one integer per input coordinate.
    """

    def __init__(self, grid: list[Count] | None = None, **cadence):
        super().__init__(**cadence)
        self.shape = tuple(int(n) for n in (grid or [64, 64]))
        self.points = None

    def check(self, pde, model):
        if len(self.shape) != pde.dim or min(self.shape) < 2:
            raise ConfigError(f"diagnostics.{self.group}.grid", list(self.shape),
                              f"{pde.dim} integers >= 2 (one per input coordinate)")

    def _axes(self, ctx):
        return ctx.pde.evaluation_grid(self.shape)

    def spec(self, ctx):
        return SeriesSpec({"map": (self.shape, "f4")}, compress=True)

    def static(self, ctx):
        return {f"grid/{a}": ax for a, ax in zip(ctx.pde.axes, self._axes(ctx))}

    def before(self, ctx, step):
        if self.points is None:
            self.points = ctx.tensor(grid_points(self._axes(ctx)))                    # (M, d)
        return residual_map(ctx.pde, ctx.field, self.points, self.shape)

    def record(self, ctx, state):
        return {"map": state.before[self.group].float().cpu().numpy()}


class EntropyProbe(Probe):
    """/entropy: H(T) in bits and saturation of every hidden layer on all collocation points
    (the model's ``hidden``; a model without hidden activations records no entropy).

    Args:
        bins: the average number of bins per neuron's range.
    """

    def __init__(self, bins: Count = 30, **cadence):
        super().__init__(**cadence)
        self.bins = bins

    def spec(self, ctx):
        with torch.no_grad():
            n = len(ctx.model.hidden(ctx.objective.points["res"][:2]))
        if n == 0:                                  # nothing to show: the probe records nothing
            return SeriesSpec({})
        return SeriesSpec({"per_layer": ((n,), "f8"), "saturation": ((n,), "f8")})

    @torch.no_grad()
    def before(self, ctx, step):
        # the points in the objective's chunks: memory bounded by the chunk, not by N
        entropy, saturation = hidden_entropy(ctx.model.hidden, ctx.objective.points["res"],
                                             self.bins, ctx.objective.chunk)
        return {"per_layer": entropy, "saturation": saturation}

    def record(self, ctx, state):
        return host(state.before[self.group])


class WeightsProbe(Probe):
    """/weights: Frobenius norm of each weight matrix, and the weighting's statistics
    (``weighting_<name>``, e.g. ``weighting_res_mean``; none without per-point weights)."""

    def spec(self, ctx):
        n_w = len(ctx.model.weight_matrices())
        fields = {"norm": ((n_w,), "f8")}
        fields.update({f"weighting_{k}": ((), "f8") for k in ctx.weighting.stats()})
        return SeriesSpec(fields)

    @torch.no_grad()
    def record(self, ctx, state):
        norms = torch.stack([w.norm() for w in ctx.model.weight_matrices()])
        stats = {f"weighting_{k}": v for k, v in ctx.weighting.stats().items()}
        return host({"norm": norms, **stats})
