"""Fourier-feature MLP: random Fourier features (optionally after an exact periodic embedding),
then a fully connected network.

    z = gamma(x) = [cos(2 pi x' B), sin(2 pi x' B)],   B (d', k) ~ N(0, sigma^2) fixed,
    h_0 = z,   h_l = act(W_l h_{l-1} + b_l)  (l = 1..depth),   u = W_{depth+1} h_depth + b_{depth+1}

x' is x with each periodic axis x_j replaced by (cos, sin)(2 pi x_j / P_j) (see
:mod:`pinn_cli.models.layers`). Weight matrices: W_1..W_{depth+1} (B is fixed and left out);
with ``rwf`` each is W = diag(exp(s)) V and the SNR is over V. ``hidden``: h_1..h_depth.
"""
from __future__ import annotations

from typing import Optional    # not `X | None`: pinn_cli.schema checks only typing.Union

import torch
from torch import nn

from pinn_cli.schema import Count
from pinn_cli.models.base import Model
from pinn_cli.models.layers import ACTIVATION_FNS, Activation
from pinn_cli.models.options import EmbeddingOptions, RWFOptions, embedding_options, rwf_options


class FourierMLP(Model):
    """Fourier features, then an MLP.

    Args:
        in_dim: number of input coordinates d.
        out_dim: number of outputs m.
        depth: number of hidden layers.
        width: units per hidden layer.
        activation: ``tanh``, ``sin`` or ``gelu``.
        embedding: the input embedding's options (:mod:`pinn_cli.models.options`; default 32
            Fourier features, the problem's periodic axes when built from YAML).
        rwf: random weight factorization's options (default: none).
    """

    def __init__(self, in_dim: int, out_dim: int = 1, depth: Count = 4, width: Count = 64,
                 activation: Activation = "tanh", embedding: Optional[EmbeddingOptions] = None,
                 rwf: Optional[RWFOptions] = None):
        super().__init__(in_dim, out_dim)
        self.embed = embedding_options(embedding, features=32).build(in_dim)
        dense = rwf_options(rwf).dense()
        sizes = [self.embed.out_dim] + [width] * depth + [out_dim]
        self.layers = nn.ModuleList(dense(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = ACTIVATION_FNS[activation]

    def weight_matrices(self) -> list[torch.Tensor]:
        """W_1..W_{depth+1} (V under RWF); B, biases and RWF scales excluded."""
        return [layer.matrix for layer in self.layers]

    def _hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """h_1..h_depth, each (N, width)."""
        out, h = [], self.embed(x)                                   # (N, 2k)
        for layer in self.layers[:-1]:
            h = self.act(layer(h))                                   # (N, width)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d) -> u: (N, m)."""
        return self.layers[-1](self._hidden(x)[-1])                  # (N, m)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The hidden activations h_1..h_depth, each (N, width), for entropy and saturation."""
        return self._hidden(x)
