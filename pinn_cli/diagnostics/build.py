"""The ``diagnostics`` config group: which probes a run records, and how often.

Each probe is configured by a mapping with its cadence (``every``, ``dense_every``,
``dense_until``, ``at``; see :class:`Cadence`) and its own settings, or null to leave it out.
"""
from __future__ import annotations

from pinn_cli.diagnostics.cadence import Cadence
from pinn_cli.diagnostics.probes import (EntropyProbe, ResidualMapProbe, ResidualProbe, SNRProbe,
                                         WeightsProbe)
from pinn_cli.diagnostics.recorder import MetricsProbe, Recorder
from pinn_cli.errors import ConfigError

CADENCE_KEYS = ("every", "dense_every", "dense_until", "at")


def _cadence(name: str, spec: dict) -> Cadence:
    for key in ("every", "dense_every", "dense_until"):
        v = spec.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"diagnostics.{name}.{key}", v, "an integer >= 0")
    return Cadence(**{k: spec[k] for k in CADENCE_KEYS if k in spec})


class Diagnostics:
    """Args:
        metrics: record /metrics every ``eval_every`` steps (primary config).
        snr: ``{batches, every, dense_every, dense_until}`` or null.
        residual: homogeneity, ``{bins, every, ...}`` or null.
        residual_map: ``{grid: [n1, n2], every, at, ...}`` or null.
        entropy: ``{bins, every, ...}`` or null.
        weights: ``{every, ...}`` or null.
    """

    def __init__(self, metrics: bool = True, snr=None, residual=None, residual_map=None,
                 entropy=None, weights=None):
        self.metrics = bool(metrics)
        self.specs = {"snr": snr, "residual": residual, "residual_map": residual_map,
                      "entropy": entropy, "weights": weights}
        self.probes = [self._probe(name, dict(spec)) for name, spec in self.specs.items()
                       if spec is not None]

    @staticmethod
    def _probe(name: str, spec: dict):
        cadence = _cadence(name, spec)
        if name == "snr":
            return SNRProbe(cadence, int(spec.get("batches", 100)))
        if name == "residual":
            return ResidualProbe(cadence, int(spec.get("bins", 10)))
        if name == "residual_map":
            grid = list(spec.get("grid", [64, 64]))
            if len(grid) != 2 or any(not isinstance(n, int) or n < 2 for n in grid):
                raise ConfigError("diagnostics.residual_map.grid", grid, "two integers >= 2")
            return ResidualMapProbe(cadence, grid)
        if name == "entropy":
            return EntropyProbe(cadence, int(spec.get("bins", 30)))
        return WeightsProbe(cadence)

    def recorder(self, eval_every: int) -> Recorder:
        probes = [MetricsProbe(Cadence(every=eval_every))] if self.metrics else []
        return Recorder(probes + self.probes)
