"""The probes pinn-cli ships: each turns one pure function into one run-file group.

Every probe reads the run through the read-only ``view`` (:class:`pinn_cli.diagnostics.view.RunView`).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from pinn_cli.diagnostics.actions import DecayLR, NextStage, Stop
from pinn_cli.diagnostics.adam import adam_snr
from pinn_cli.diagnostics.base import Probe, host
from pinn_cli.diagnostics.entropy import hidden_entropy
from pinn_cli.diagnostics.residuals import homogeneity, magnitude
from pinn_cli.diagnostics.snr import batch_count, snr_stats
from pinn_cli.errors import ConfigError
from pinn_cli.phases.online import OnlinePhases
from pinn_cli.runfile import SeriesSpec
from pinn_cli.problem import grid_points
from pinn_cli.schema import Count, Fraction


PHASES = ("unknown", "fitting", "diffusion", "total_diffusion")
MAX_MAP_POINTS = 1 << 24          # a residual map's grid points (16.8M: 64 MiB per float32 map)
ACTIONS = ("none", "decay_lr", "next_stage", "stop")


class SNRProbe(Probe):
    """/snr: batch-gradient SNR (global, per layer), gradient order; Adam's SNR and mean step
    where the optimizer keeps Adam's moments (absent otherwise); and the live phase: the causal
    detector (:class:`pinn_cli.phases.online.OnlinePhases`) fed every record, its phase
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

    kind = "snr"

    needs_capture = True

    def __init__(self, batches: Count | Literal["auto"] = 100, live: bool = True,
                 on_total_diffusion: Literal[ACTIONS] = "none", lr_factor: Fraction = 0.1,
                 **cadence):
        super().__init__(**cadence)
        self.batches, self.live = batches, live
        self.on_total = {"none": None, "decay_lr": DecayLR(lr_factor), "next_stage": NextStage(),
                         "stop": Stop()}[on_total_diffusion]
        self.online = OnlinePhases() if live else None
        self.actions: list = []

    def check(self, problem):
        self.batches = batch_count(problem.terms["res"], self.batches)

    def actions_possible(self):
        return [self.on_total] if self.on_total is not None and self.live else []

    def spec(self, view):
        n_w = view.info.n_weights
        fields = {"global": ((), "f8"), "per_layer": ((n_w,), "f8"), "order": ((), "f8"),
                  "order_per_layer": ((n_w,), "f8")}
        if view.optimizer.has_adam:
            fields.update({"adam": ((), "f8"), "adam_step": ((), "f8")})
        if self.live:
            fields.update({"phase": ((), "i1"), "smooth": ((), "f8"), "action": ((), "i1")})
        return SeriesSpec(fields)

    def record(self, view, state):
        values = snr_stats(state.batch_moments)
        if view.optimizer.has_adam:
            adam = adam_snr(view.optimizer.adam_moments())
            values.update(adam=adam["snr"], adam_step=adam["mean_step"])
        rec = host(values)
        if self.live:
            rec.update(self._live(state.step, float(rec["global"])))
        return rec

    def _live(self, step: int, snr: float) -> dict:
        ps = self.online.update(step, snr)
        action = "none"
        if any(t.kind == "total_diffusion" for t in ps.just_confirmed) and self.on_total:
            action = self.on_total.name
            self.actions.append(self.on_total)
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


class ResidualProbe(Probe):
    """/residual: homogeneity of |r| at the collocation points, and of the weighting's per-point
    weights of the residual term (NaN without them). The cells are those of the bounding box
    ``bounds``; only cells holding points count, so the cells of a non-box domain's bounding box
    that lie outside it (a hole) leave the measure unchanged.

    Args:
        bins: cells per axis of the homogeneity grid.
    """

    kind = "residual"

    def __init__(self, bins: Count = 10, **cadence):
        super().__init__(**cadence)
        self.bins = bins

    def spec(self, view):
        return SeriesSpec({"homogeneity": ((), "f8"), "homogeneity_weights": ((), "f8")})

    def record(self, view, state):
        x, bounds = state.points["res"], np.asarray(view.info.problem.bounds)
        phi = homogeneity(x, magnitude(state.residuals["res"]), bounds, self.bins)
        lam = view.point_weights().get("res")
        phi_w = (homogeneity(x, magnitude(lam), bounds, self.bins) if lam is not None
                 else phi.new_tensor(np.nan))
        return host({"homogeneity": phi, "homogeneity_weights": phi_w})


class ResidualMapProbe(Probe):
    """/residual_map: |r| on a regular grid over the domain's bounding box (axes in /grid),
    gzip-compressed; NaN at the grid points outside a domain that is not a box (the problem's
    ``domain``: a hole, the cut corner of an L-shape), where the residual is not evaluated.

    Args:
        grid: points per axis, one integer per input coordinate.
    """

    kind = "residual_map"

    def __init__(self, grid: list[Count] | None = None, **cadence):
        super().__init__(**cadence)
        self.shape = tuple(int(n) for n in (grid or [64, 64]))
        self.points = None
        self.inside = None         # rows of the grid in the domain (None: all, a box)

    def check(self, problem):
        d = problem.in_dim
        if len(self.shape) != d or min(self.shape) < 2:
            raise ConfigError(f"diagnostics.{self.group}.grid", list(self.shape),
                              f"{d} integers >= 2 (one per input coordinate)")
        if math.prod(self.shape) > MAX_MAP_POINTS:
            raise ConfigError(f"diagnostics.{self.group}.grid", list(self.shape),
                              f"at most {MAX_MAP_POINTS:,} points in all (a map is stored at "
                              "every record)")

    def spec(self, view):
        return SeriesSpec({"map": (self.shape, "f4")}, compress=True)

    def static(self, view):
        return {f"grid/{a}": ax for a, ax in zip(view.info.problem.axes,
                                                 view.evaluation_grid(self.shape))}

    def before(self, view, step):
        if self.points is None:
            grid = grid_points(view.evaluation_grid(self.shape))                        # (M, d)
            if view.info.problem.domain is not None:
                self.inside = torch.as_tensor(view.info.problem.inside(grid), device=view.info.device)
                grid = grid[self.inside.cpu().numpy()]                                  # (M_in, d)
            self.points = view.tensor(grid)
        parts = [magnitude(view.residual(x)) for x in self.points.split(view.info.chunk)]
        values = torch.cat(parts)                                                       # (M_in,)
        if self.inside is not None:
            full = values.new_full((math.prod(self.shape),), float("nan"))              # (M,)
            values = full.masked_scatter(self.inside, values)
        return values.reshape(self.shape)

    def record(self, view, state):
        return {"map": state.before[self.group].float().cpu().numpy()}


class EntropyProbe(Probe):
    """/entropy: H(T) in bits and saturation of every hidden layer on all collocation points
    (the model's ``hidden``; a model without hidden activations records no entropy).

    Args:
        bins: the average number of bins per neuron's range.
    """

    kind = "entropy"

    def __init__(self, bins: Count = 30, **cadence):
        super().__init__(**cadence)
        self.bins = bins

    def spec(self, view):
        n = len(view.hidden(view.info.points["res"][:2]))
        if n == 0:                                  # nothing to show: the probe records nothing
            return SeriesSpec({})
        return SeriesSpec({"per_layer": ((n,), "f8"), "saturation": ((n,), "f8")})

    def before(self, view, step):
        # the points in chunks: memory bounded by the chunk, not by N
        entropy, saturation = hidden_entropy(view.hidden, view.points()["res"], self.bins,
                                             view.info.chunk)
        return {"per_layer": entropy, "saturation": saturation}

    def record(self, view, state):
        return host(state.before[self.group])


class WeightsProbe(Probe):
    """/weights: Frobenius norm of each weight matrix, and the weighting's statistics
    (``weighting_<name>``, e.g. ``weighting_res_mean``; none without per-point weights)."""

    kind = "weights"

    def spec(self, view):
        fields = {"norm": ((view.info.n_weights,), "f8")}
        fields.update({f"weighting_{k}": ((), "f8") for k in view.weighting_stats()})
        return SeriesSpec(fields)

    def record(self, view, state):
        norms = torch.stack([w.norm() for w in view.weight_matrices()])
        stats = {f"weighting_{k}": v for k, v in view.weighting_stats().items()}
        return host({"norm": norms, **stats})
