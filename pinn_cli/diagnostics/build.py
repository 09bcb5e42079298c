"""The ``diagnostics`` config group: which probes a run records, and how often."""
from __future__ import annotations

from pinn_cli.diagnostics.cadence import Cadence
from pinn_cli.diagnostics.recorder import MetricsProbe, Recorder


class Diagnostics:
    """Args:
        metrics: record /metrics (loss terms, rel-L2, lr, wall time) every ``eval_every`` steps.
    """

    def __init__(self, metrics: bool = True):
        self.metrics = bool(metrics)

    def recorder(self, eval_every: int) -> Recorder:
        probes = []
        if self.metrics:
            probes.append(MetricsProbe(Cadence(every=eval_every)))
        return Recorder(probes)
