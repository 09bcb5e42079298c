"""Fully connected network u_theta: R^d -> R^m with Xavier-normal weights.

    h_0 = x,   h_l = sigma(W_l h_{l-1} + b_l)  (l = 1..depth),   u = W_{depth+1} h_depth + b_{depth+1}

``depth`` counts hidden layers (the paper's network is depth 6, width 128, tanh), so there are
``depth + 1`` weight matrices. Biases keep PyTorch's default initialisation, as in the paper.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from pinn_cli.schema import Count
from pinn_cli.models.base import Model

ACTIVATION_FNS = {"tanh": torch.tanh, "sin": torch.sin, "gelu": nn.functional.gelu}


class MLP(Model):
    """Plain MLP.

    Args:
        in_dim: number of input coordinates d.
        out_dim: number of outputs m.
        depth: number of hidden layers (>= 1).
        width: units per hidden layer (>= 1).
        activation: ``tanh``, ``sin`` or ``gelu``.
    """

    def __init__(self, in_dim: int, out_dim: int = 1, depth: Count = 4, width: Count = 64,
                 activation: Literal["tanh", "sin", "gelu"] = "tanh"):
        super().__init__(in_dim, out_dim)
        sizes = [in_dim] + [width] * depth + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight)
        self.activation = activation
        self.sigma = ACTIVATION_FNS[activation]

    def weight_matrices(self) -> list[torch.Tensor]:
        """The weight matrices W_1..W_{depth+1}, biases excluded (the SNR's parameters)."""
        return [layer.weight for layer in self.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d) -> u: (N, m)."""
        h = x
        for layer in self.layers[:-1]:
            h = self.sigma(layer(h))
        return self.layers[-1](h)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The hidden activations h_1..h_depth, each (N, width), for entropy and saturation."""
        out, h = [], x
        for layer in self.layers[:-1]:
            h = self.sigma(layer(h))
            out.append(h)
        return out
