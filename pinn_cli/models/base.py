"""The contract every network fulfils.

A model maps points to outputs, ``(N, d) -> (N, m)``: d the PDE's input coordinates, m its solution
components (``PDE.outputs``). Both are passed to the constructor by the trainer (``in_dim``,
``out_dim``); the YAML holds the architecture's own settings only.

Beyond ``forward``, a model tells the diagnostics what to look at:

- ``weight_matrices()``: the parameters the batch-gradient SNR is taken over (weight matrices;
  biases, scales and embeddings' fixed frequencies are usually left out). Every diagnostic that is
  "per layer" is per entry of this list.
- ``hidden(x)``: the hidden activations whose entropy and saturation are recorded, each (N, w_l);
  ``[]`` means the model has none to show (the entropy probe then records nothing).
- ``supports_streams`` (default True): derivatives of any order come from running ``forward`` on
  derivative streams (:mod:`pinn_cli.fields.jet`: linear maps, activations, sums and products of
  tensors, indexing along the feature axes), with every weight matrix used only through linear
  maps (``F.linear``, ``nn.Linear``, ``x @ W.T``); that is what lets the SNR take every batch
  gradient from the step's own backward. A forward the streams cannot follow is differentiated
  by nested autograd after one logged line, and its SNR takes one backward per batch: correct,
  slower. Set it to False to skip the attempt.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class Model(nn.Module, ABC):
    """Base class of pinn-cli's networks.

    Args:
        in_dim: number of input coordinates d (given by the trainer from the PDE).
        out_dim: number of outputs m (given by the trainer from the PDE).
    """

    supports_streams: bool = True

    def __init__(self, in_dim: int, out_dim: int = 1):
        super().__init__()
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d) -> (N, m)."""

    @abstractmethod
    def weight_matrices(self) -> list[torch.Tensor]:
        """The parameters the batch-gradient SNR is over, in layer order."""

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Hidden activations at x (N, d), each (N, w_l), for entropy and saturation ([] allowed)."""
        return []
