"""The diagnostics hook of the training loop: the ``diagnostics`` config group.

``Diagnostics`` holds the run's probes, each built by Hydra from its ``_target_`` entry; the key
of the entry names the probe's group in the run file. ``metrics: true`` adds the metrics probe on
the ``eval_every`` cadence of the primary config. A user's own probe is one more entry, in their
own YAML (see docs/extending.md).
"""
from __future__ import annotations

from dataclasses import replace

import torch

from pinn_cli.diagnostics.base import Probe, StepState
from pinn_cli.errors import ConfigError
from pinn_cli.runfile import SeriesSpec


class MetricsProbe(Probe):
    """/metrics: loss, each loss term, the unweighted residual mean square, rel-L2 (the headline
    observable, and each other one as ``rel_l2_<name>``), lr, wall time."""

    kind = "metrics"

    group = "metrics"

    def spec(self, view):
        terms, obs = view.info.term_weights, view.info.observables
        names = ["loss", *(f"loss_{k}" for k in terms), "res_mse", "rel_l2",
                 *(f"rel_l2_{k}" for k in obs[1:]), "lr", "wall_time"]
        return SeriesSpec({n: ((), "f8") for n in names})

    def before(self, view, step):
        return view.errors()

    def record(self, view, state: StepState):
        terms, obs = list(view.info.term_weights), view.info.observables
        errs = state.before["metrics"]
        res = state.residuals["res"]
        values = torch.stack([state.loss, *(state.terms[k] for k in terms),
                              res.square().sum() / len(res), *errs.values()]).double().cpu().numpy()
        n_t = len(terms)
        out = {"loss": values[0], "res_mse": values[1 + n_t], "lr": state.lr, "wall_time": state.wall_time}
        out.update({f"loss_{k}": v for k, v in zip(terms, values[1:1 + n_t])})
        for j, name in enumerate(obs):
            out["rel_l2" if j == 0 else f"rel_l2_{name}"] = values[2 + n_t + j]
        return out


class Diagnostics:
    """Args:
        metrics: record /metrics every ``eval_every`` steps (primary config).
        **probes: group name -> a built :class:`Probe`, or null to leave it out.
    """

    def __init__(self, metrics: bool = True, **probes: Probe | None):
        self.metrics = bool(metrics)
        self.probes = []
        for name, probe in probes.items():
            if probe is None:
                continue
            if not isinstance(probe, Probe):
                raise ConfigError(f"diagnostics.{name}", type(probe).__name__,
                                  "a probe: a mapping with _target_ naming a Probe class, or null")
            c = probe.cadence
            if not (c.every or (c.dense_every and c.dense_until) or c.at):
                raise ConfigError(f"diagnostics.{name}.every", c.every,
                                  "an integer >= 1, or dense_every/dense_until or at set (a probe "
                                  "that never records is left out with diagnostics." + name + "=null)")
            probe.group = name
            self.probes.append(probe)

    def leave_out_what_does_not_apply(self, problem) -> None:
        """Drop the probes whose ``applies(problem)`` is False (optional defaults)."""
        self.probes = [p for p in self.probes if p.applies(problem)]

    def recorder(self, eval_every: int) -> "Recorder":
        probes = [MetricsProbe(every=eval_every)] if self.metrics else []
        return Recorder(probes + self.probes)


class Recorder:
    """Holds the probes of a run; says which are due and lays out the run file."""

    def __init__(self, probes: list[Probe]):
        self.probes = probes
        # one count for every capturing probe (checked when the run is built)
        self.batches = max((p.batches for p in probes if p.needs_capture), default=0)

    def due(self, step: int) -> list[Probe]:
        return [p for p in self.probes if p.due(step)]

    def layout(self, view):
        """-> (series specs, static datasets) of the run file; a probe with no fields for this
        run (entropy of a model without hidden layers) is dropped."""
        specs = {p.group: p.spec(view) for p in self.probes}
        self.probes = [p for p in self.probes if specs[p.group].fields]
        series = {p.group: replace(specs[p.group], kind=p.record_kind) for p in self.probes}
        static = {k: v for p in self.probes for k, v in p.static(view).items()}
        return series, static
