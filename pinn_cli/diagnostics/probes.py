"""The probes pinn-cli ships: each turns one pure function into one run-file group.

Every probe reads the run through the read-only ``ctx`` (:class:`pinn_cli.training.context.RunContext`).
"""
from __future__ import annotations

import numpy as np
import torch

from pinn_cli.config.schema import Count
from pinn_cli.diagnostics.adam import adam_snr, has_adam_state
from pinn_cli.diagnostics.base import Probe, host
from pinn_cli.diagnostics.entropy import layer_entropy
from pinn_cli.diagnostics.residuals import homogeneity, magnitude, residual_map
from pinn_cli.diagnostics.snr import check_batches, snr_stats
from pinn_cli.errors import ConfigError
from pinn_cli.pdes.base import grid_points
from pinn_cli.runfile import SeriesSpec


class SNRProbe(Probe):
    """/snr: batch-gradient SNR (global, per layer), gradient order; Adam's SNR and mean step
    where the optimizer keeps Adam's moments (absent otherwise).

    Args:
        batches: B, the number of equal batches of collocation points (divides N).
    """

    needs_capture = True

    def __init__(self, batches: Count = 100, **cadence):
        super().__init__(**cadence)
        self.batches = batches

    def check(self, pde, model):
        check_batches(pde.n_collocation, self.batches)

    def spec(self, ctx):
        n_w = len(ctx.model.weight_matrices())
        fields = {"global": ((), "f8"), "per_layer": ((n_w,), "f8"), "order": ((), "f8"),
                  "order_per_layer": ((n_w,), "f8")}
        if has_adam_state(ctx.optimizer):
            fields.update({"adam": ((), "f8"), "adam_step": ((), "f8")})
        return SeriesSpec(fields)

    def record(self, ctx, state):
        values = snr_stats(state.batch_grads)
        if has_adam_state(ctx.optimizer):
            adam = adam_snr(ctx.optimizer)
            values.update(adam=adam["snr"], adam_step=adam["mean_step"])
        return host(values)


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
        pairs = [layer_entropy(h, self.bins) for h in ctx.model.hidden(ctx.objective.points["res"])]
        if not pairs:
            return {"per_layer": torch.zeros(0), "saturation": torch.zeros(0)}
        return {"per_layer": torch.stack([p[0] for p in pairs]),
                "saturation": torch.stack([p[1] for p in pairs])}

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
