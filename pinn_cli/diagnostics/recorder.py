"""The diagnostics hook of the training loop.

A *probe* owns one series group of the run file: it declares its fields, says at which steps it
wants to record, and turns the state of a step into one record. The recorder asks each probe
once per step whether it is due (plain integer arithmetic, no device work), and only then lets
it compute. Probes that need something from the training step itself (the per-batch gradient
rows of the SNR) say so through ``needs_capture``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from pinn_cli.diagnostics.cadence import Cadence
from pinn_cli.runfile import SeriesSpec


@dataclass
class StepState:
    """What a probe may read after a training step (all tensors stay on the device)."""

    step: int
    loss: torch.Tensor                       # () total loss of this step
    terms: dict[str, torch.Tensor]           # () each, the mean squares as they enter the loss
    residuals: dict[str, torch.Tensor]       # (N_k,) pointwise residuals before weighting
    lr: float
    wall_time: float
    before: dict = field(default_factory=dict)        # group -> what Probe.before measured
    batch_grads: list | None = None          # (B, out, in) per weight matrix, when captured


class Probe:
    """Base class: one series group, a cadence, a record."""

    group: str = ""
    needs_capture = False

    def __init__(self, cadence: Cadence):
        self.cadence = cadence

    def spec(self, trainer) -> SeriesSpec:
        raise NotImplementedError

    def static(self, trainer) -> dict[str, np.ndarray]:
        return {}

    def due(self, step: int) -> bool:
        return self.cadence.due(step)

    def before(self, trainer, step: int):
        """Measure, before the step's update, what must describe the step's own parameters."""
        return None

    def record(self, trainer, state: StepState) -> dict[str, np.ndarray]:
        raise NotImplementedError


class MetricsProbe(Probe):
    """/metrics: loss, each loss term, the unweighted residual mean square, rel-L2, lr, wall time."""

    group = "metrics"

    def spec(self, trainer):
        names = ["loss", *(f"loss_{k}" for k in trainer.term_names), "res_mse", "rel_l2", "lr",
                 "wall_time"]
        return SeriesSpec({n: ((), "f8") for n in names})

    def before(self, trainer, step):
        return trainer.rel_l2()

    def record(self, trainer, state):
        values = torch.stack([state.loss.detach(), *(t.detach() for t in state.terms.values()),
                              state.residuals["res"].detach().square().mean(),
                              state.before["metrics"]]).double().cpu().numpy()  # one host copy
        out = {"loss": values[0], "res_mse": values[-2], "rel_l2": values[-1], "lr": state.lr,
               "wall_time": state.wall_time}
        out.update({f"loss_{k}": v for k, v in zip(state.terms, values[1:-2])})
        return out


class Recorder:
    """Holds the probes of a run and writes their records."""

    def __init__(self, probes: list[Probe]):
        self.probes = probes

    def due(self, step: int) -> list[Probe]:
        return [p for p in self.probes if p.due(step)]

    def layout(self, trainer):
        series = {p.group: p.spec(trainer) for p in self.probes}
        static = {k: v for p in self.probes for k, v in p.static(trainer).items()}
        return series, static
