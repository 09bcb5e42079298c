"""The contract every weighting scheme fulfils.

A weighting scheme sits between the pointwise residuals and the loss. Before training,
``check(problem)`` refuses settings that do not fit the problem; a constructor parameter named
after a context key of :mod:`pinn_cli.problem` (``time_axis``, ``terms``, ...) is handed the
problem's value when the YAML leaves it null. The loss engine
(:class:`pinn_cli.training.loss_engine.LossEngine`) then calls it in this order, once per iteration:

1. ``setup(points)`` once, with the training points' coordinates ``{term: (N_k, d)}`` (a causal
   scheme needs the times, a per-point scheme the counts; device and dtype are the points').
2. ``update(residuals, step)`` with this iteration's detached residuals ``{term: (N_k,) or
   (N_k, q)}``, before the loss is formed (RBA's order). A scheme whose update reads every point
   (a maximum, a norm over all points) sets ``uses_residuals = True``; the objective then
   evaluates all residuals before it forms any chunk's loss.
3. ``apply(residuals, rows)`` -> the residuals that enter the squared loss, same keys and shapes.
   ``rows`` (a slice) says which interior points the ``"res"`` entry holds when it is a subset
   (a chunk, an SNR batch); every other entry is always whole.
4. After the model's optimizer step, ``step()``: a scheme with trainable weights
   (``parameters()`` non-empty; they receive gradients from the same backward as the model)
   updates them by its own rule, e.g. gradient ascent with its own optimizer.

A scheme that balances the terms by their gradients (grad-norm) says on which steps it needs
them, ``wants_term_grads(step)``; the objective then keeps each term's gradient apart in that
step's backward (no extra pass) and hands them over, ``term_gradients({k: [dL_k/dp]}, step)``.

When the points change during a run (``sampling``, ``strategy=time_marching``), ``resample(points,
nearest)`` is called with the new points and, for each, the index of the nearest old point: RBA
carries each weight to the new point nearest its old one (the weight is a smoothed residual,
and the residual is continuous); causal weighting recomputes its time slabs; term-level schemes
keep their state; a scheme with trainable per-point weights (``trains_per_point``, SA) is refused
with moving points before training (an ascent state per point has no sensible carry-over).

``weights()`` exposes per-point weights by term (for the residual probe's homogeneity);
``stats()`` scalar summaries for the run file, generic names only (``res_mean``, ``res_max``...).
``state_dict``/``load_state_dict`` hold everything a bit-identical resume needs.
"""
from __future__ import annotations

from typing import ClassVar

import torch


class Weighting:
    """The identity scheme (``weighting=none``) and the base class of every other."""

    uses_residuals: ClassVar[bool] = False
    trains_per_point: ClassVar[bool] = False    # trainable weights per point: no resampling

    def check(self, problem) -> None:
        """Refuse (ConfigError) settings that do not fit ``problem`` (a
        :class:`pinn_cli.problem.Problem`: its terms and their counts, axes, time axis)."""

    def setup(self, points: dict[str, torch.Tensor]) -> None:
        """Allocate per-point state from the training points (fixed for the run)."""

    def resample(self, points: dict[str, torch.Tensor], nearest: dict[str, torch.Tensor]) -> None:
        """The training points changed (a resample, a new time window): ``points`` the new
        {term: (N_k, d)}, ``nearest`` {term: (N_k,) the index of each new point's nearest old
        one}. A scheme with per-point state carries it over; this one has none."""

    def update(self, residuals: dict[str, torch.Tensor], step: int) -> None:
        """Advance the scheme's state with this iteration's detached residuals."""

    def apply(self, residuals: dict[str, torch.Tensor], rows=None) -> dict[str, torch.Tensor]:
        """Pointwise residuals -> pointwise residuals that enter the squared loss."""
        return residuals

    def parameters(self) -> list[torch.Tensor]:
        """Trainable weights (leaf tensors with requires_grad); [] for most schemes."""
        return []

    def step(self) -> None:
        """Update the trainable weights from their ``.grad`` (called after the model's step)."""

    def wants_term_grads(self, step: int) -> bool:
        """Whether this step's backward must keep each loss term's gradient apart."""
        return False

    def term_gradients(self, grads: dict[str, list[torch.Tensor]], step: int) -> None:
        """Each term's gradient as it enters the loss, one tensor per model parameter."""

    def weights(self) -> dict[str, torch.Tensor]:
        """Per-point weights by term, each (N_k,) or (N_k, q); empty when there are none."""
        return {}

    def stats(self) -> dict[str, torch.Tensor]:
        """Scalar summaries for the run file: mean, max and min of each term's weights."""
        out = {}
        for term, w in self.weights().items():
            w = w.detach()
            out.update({f"{term}_mean": w.mean(), f"{term}_max": w.max(), f"{term}_min": w.min()})
        return out

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
