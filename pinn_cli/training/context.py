"""What a probe may read of a run: a narrow, read-only view instead of the trainer."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class RunContext:
    """The parts of one run.

    Attributes:
        pde, model, field: the problem, the network, the network as a field.
        objective: the loss (:class:`pinn_cli.training.objective.Objective`); its ``points`` are
            the training points ``{term: (N_k, d)}``.
        weighting: the weighting scheme.
        optimizer: the torch optimizer (its state is the optimizer diagnostics' input).
        evaluator: errors against the reference (:class:`pinn_cli.training.evaluate.Evaluator`).
        device, dtype: where and in what precision the run computes.
    """

    pde: object
    model: torch.nn.Module
    field: object
    objective: object
    weighting: object
    optimizer: torch.optim.Optimizer
    evaluator: object
    device: torch.device
    dtype: torch.dtype

    def tensor(self, a) -> torch.Tensor:
        """A numpy array as a tensor of the run's device and dtype."""
        return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype, device=self.device)
