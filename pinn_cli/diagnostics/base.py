"""The contract every probe (diagnostic) fulfils.

A probe owns one series group of the run file, named after its key in the diagnostics config
(``conf/diagnostics/*.yaml``, each entry a ``_target_`` with the probe's settings and cadence)::

    snr: {_target_: pinn_cli.diagnostics.probes.SNRProbe, batches: 100, every: 100}

- cadence: ``every``, ``dense_every`` up to ``dense_until``, and the steps ``at``
  (:class:`pinn_cli.diagnostics.cadence.Cadence`); the recorder asks ``due(step)`` with plain
  integer arithmetic, no device work;
- ``check(problem)``: refuse, with a ConfigError, settings that do not fit the problem
  (:class:`pinn_cli.problem.Problem`); called before training, also by the command line's
  pre-check of every combination of a sweep; ``applies(problem)``: False leaves the probe out
  of the run (a default that describes only some problems, e.g. the field map's 2-D maps);
- ``spec(view)``: the fields of its group, name -> (per-record shape, dtype), fixed for the run;
  ``static(view)``: datasets written once (grids, axes);
- ``before(view, step)``: what must be measured before the step's update (it describes the
  parameters the step starts from); ``record(view, state)``: one record, host arrays;
- ``needs_capture``: the probe needs the SNR batch gradients of the step (their elementwise
  mean and variance, ``state.batch_moments``, :class:`pinn_cli.diagnostics.moments.BatchMoments`);
  ``batches`` says how many;
- ``restore(data)``: a resumed run hands the probe its group's earlier records; ``status()``
  is a short text for the progress display;
- ``actions``: :class:`pinn_cli.diagnostics.actions.Action` objects the trainer carries out after
  the records of a step (and empties); ``actions_possible()`` the ones the probe may queue,
  checked against the run before training (``next_stage`` needs a staged optimizer);
- ``kind``: what the group holds, written as the group's attribute in the run file (a user's
  probe: its class's qualified name); pinn-analyze finds a group by its kind, so a group may be
  given any name in the YAML (``snr:`` renamed ``gsnr:`` still gives the phases);
- ``figure(data, ax)`` (optional, a static method): draws the group's series on a matplotlib
  axis; ``pinn-analyze`` uses it for the group's figure, with the detected phases shaded.

``view`` is the read-only :class:`pinn_cli.diagnostics.view.RunView` (its ``info`` the frozen
:class:`pinn_cli.diagnostics.view.RunInfo`), never the trainer or the run's objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from pinn_cli.schema import NonNegInt
from pinn_cli.diagnostics.cadence import Cadence
from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.runfile import SeriesSpec


@dataclass(frozen=True)
class StepState:
    """What a probe may read after a training step (tensors stay on the device, detached)."""

    step: int
    loss: torch.Tensor                       # () total loss of this step
    terms: dict[str, torch.Tensor]           # () each, the term as it enters the loss
    residuals: dict[str, torch.Tensor]       # (N_k,) or (N_k, q) pointwise, before weighting
    points: dict[str, torch.Tensor]          # (N_k, d) the points the residuals are at
    lr: float
    wall_time: float
    before: dict = field(default_factory=dict)        # group -> what Probe.before measured
    batch_moments: BatchMoments | None = None   # the SNR batch gradients' moments, when captured
    term_grads: dict[str, list[torch.Tensor]] | None = None   # {term: [dL_k/dW per weight matrix]}, when captured


class Probe:
    """Base class: one series group, a cadence, a record.

    Args:
        every, dense_every, dense_until, at: the cadence (:class:`Cadence`).
    """

    group: str = ""
    needs_capture = False
    batches = 0
    kind = ""       # what the group holds, stored with it: readers find a group by its kind

    @property
    def record_kind(self) -> str:
        """The kind written with the group: ``kind``, else the class's qualified name."""
        return self.kind or f"{type(self).__module__}.{type(self).__qualname__}"

    def __init__(self, every: NonNegInt = 100, dense_every: NonNegInt = 0,
                 dense_until: NonNegInt = 0, at: list[NonNegInt] | None = None):
        self.cadence = Cadence(every, dense_every, dense_until, list(at or []))

    def check(self, problem) -> None:
        """Raise ConfigError if the probe's settings do not fit this problem."""

    def applies(self, problem) -> bool:
        """Whether the probe describes this problem (False: the run leaves it out, quietly)."""
        return True

    def actions_possible(self) -> list:
        """The :class:`pinn_cli.diagnostics.actions.Action` objects this probe may queue."""
        return []

    def spec(self, view) -> SeriesSpec:
        raise NotImplementedError

    def static(self, view) -> dict[str, np.ndarray]:
        return {}

    def due(self, step: int) -> bool:
        return self.cadence.due(step)

    def before(self, view, step: int):
        """Measure, before the step's update, what must describe the step's own parameters."""
        return None

    def record(self, view, state: StepState) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def restore(self, data: dict[str, np.ndarray]) -> None:
        """A resumed run: the group's records kept from before (for a probe with state)."""

    def status(self) -> str:
        """A short text for the progress display ('' for none)."""
        return ""

    @property
    def actions(self) -> list:
        """Action objects for the trainer, consumed; this probe's own list (never shared)."""
        if "_actions" not in self.__dict__:
            self._actions = []
        return self._actions

    @actions.setter
    def actions(self, value: list) -> None:
        self._actions = value


def host(values: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """One device-to-host copy for a whole record of tensors."""
    if not values:
        return {}
    flat = torch.cat([v.detach().double().reshape(-1) for v in values.values()]).cpu().numpy()
    out, i = {}, 0
    for k, v in values.items():
        out[k] = flat[i:i + v.numel()].reshape(v.shape)
        i += v.numel()
    return out
