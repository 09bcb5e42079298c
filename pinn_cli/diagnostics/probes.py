"""The probes of the full diagnostics: each turns one pure function into one run-file group."""
from __future__ import annotations

import numpy as np
import torch

from pinn_cli.diagnostics.adam import adam_snr
from pinn_cli.diagnostics.entropy import layer_entropy
from pinn_cli.diagnostics.recorder import Probe
from pinn_cli.diagnostics.residuals import homogeneity, residual_map
from pinn_cli.diagnostics.snr import check_batches, snr_stats
from pinn_cli.pdes.base import grid_points
from pinn_cli.runfile import SeriesSpec


def _host(values: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """One device-to-host copy for a whole record."""
    flat = torch.cat([v.detach().double().reshape(-1) for v in values.values()]).cpu().numpy()
    out, i = {}, 0
    for k, v in values.items():
        out[k] = flat[i:i + v.numel()].reshape(v.shape)
        i += v.numel()
    return out


class SNRProbe(Probe):
    """/snr: batch-gradient SNR (global, per layer), gradient order, and Adam's SNR and step."""

    group = "snr"
    needs_capture = True

    def __init__(self, cadence, batches: int):
        super().__init__(cadence)
        self.batches = batches

    def spec(self, trainer):
        check_batches(len(trainer.points["res"]), self.batches)
        n_w = len(trainer.model.weight_matrices())
        return SeriesSpec({"global": ((), "f8"), "per_layer": ((n_w,), "f8"), "order": ((), "f8"),
                           "order_per_layer": ((n_w,), "f8"), "adam": ((), "f8"),
                           "adam_step": ((), "f8")})

    def record(self, trainer, state):
        stats = snr_stats(state.batch_grads)
        adam = adam_snr(trainer.optimizer)
        return _host({**stats, "adam": adam["snr"], "adam_step": adam["mean_step"]})


class ResidualProbe(Probe):
    """/residual: homogeneity of |r| at the collocation points, and of the RBA weights."""

    group = "residual"

    def __init__(self, cadence, bins: int = 10):
        super().__init__(cadence)
        self.bins = bins

    def spec(self, trainer):
        return SeriesSpec({"homogeneity": ((), "f8"), "homogeneity_weights": ((), "f8")})

    def record(self, trainer, state):
        x, bounds = trainer.points["res"], trainer.pde.bounds
        phi = homogeneity(x, state.residuals["res"].detach().abs(), bounds, self.bins)
        lam = trainer.weighting.weights().get("res")
        phi_w = homogeneity(x, lam, bounds, self.bins) if lam is not None else phi.new_tensor(np.nan)
        return _host({"homogeneity": phi, "homogeneity_weights": phi_w})


class ResidualMapProbe(Probe):
    """/residual_map: |r| on a regular grid over the domain (axes in /grid), gzip-compressed."""

    group = "residual_map"

    def __init__(self, cadence, grid: list[int]):
        super().__init__(cadence)
        self.shape = tuple(int(n) for n in grid)
        self.points = None

    def _axes(self, trainer):
        return trainer.pde.evaluation_grid(self.shape)

    def spec(self, trainer):
        return SeriesSpec({"map": (self.shape, "f4")}, compress=True)

    def static(self, trainer):
        return {f"grid/{a}": ax for a, ax in zip(trainer.pde.axes, self._axes(trainer))}

    def before(self, trainer, step):
        if self.points is None:
            self.points = trainer._tensor(grid_points(self._axes(trainer)))         # (M, d)
        return residual_map(trainer.pde, trainer.field, self.points, self.shape)

    def record(self, trainer, state):
        return {"map": state.before[self.group].float().cpu().numpy()}


class EntropyProbe(Probe):
    """/entropy: H(T) in bits and saturation of every hidden layer on all collocation points."""

    group = "entropy"

    def __init__(self, cadence, bins: int = 30):
        super().__init__(cadence)
        self.bins = bins

    def spec(self, trainer):
        depth = len(trainer.model.weight_matrices()) - 1
        return SeriesSpec({"per_layer": ((depth,), "f8"), "saturation": ((depth,), "f8")})

    @torch.no_grad()
    def before(self, trainer, step):
        pairs = [layer_entropy(h, self.bins) for h in trainer.model.hidden(trainer.points["res"])]
        return {"per_layer": torch.stack([p[0] for p in pairs]),
                "saturation": torch.stack([p[1] for p in pairs])}

    def record(self, trainer, state):
        return _host(state.before[self.group])


class WeightsProbe(Probe):
    """/weights: Frobenius norm of each weight matrix; mean and max of the RBA weights."""

    group = "weights"

    def spec(self, trainer):
        n_w = len(trainer.model.weight_matrices())
        return SeriesSpec({"norm": ((n_w,), "f8"), "rba_mean": ((), "f8"), "rba_max": ((), "f8")})

    @torch.no_grad()
    def record(self, trainer, state):
        norms = torch.stack([w.norm() for w in trainer.model.weight_matrices()])
        lam = trainer.weighting.weights().get("res")
        nan = norms.new_tensor(np.nan)
        return _host({"norm": norms, "rba_mean": nan if lam is None else lam.mean(),
                      "rba_max": nan if lam is None else lam.max()})
