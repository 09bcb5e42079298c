"""The gated "modified MLP" of Wang, Teng & Perdikaris (2021), optionally behind an embedding.

With z = Phi(x) the input embedding (identity by default; exact periodic axes and/or random
Fourier features, :mod:`pinn_cli.models.layers`) and act the activation:

    U   = act(W_u z + b_u),   V = act(W_v z + b_v)                       two encoders, (N, width)
    H_1 = act(W_1 z + b_1)
    Z_l = act(W_{l+1} H_l + b_{l+1}),   H_{l+1} = (1 - Z_l) * U + Z_l * V     l = 1..depth-1

computed as U + Z_l * (V - U), one product (on derivative streams each product is a Leibniz sum).
    u   = W_out H_depth + b_out

``depth`` counts the hidden layers H_1..H_depth of the main path, as the MLP's ``depth`` does, so
a modified MLP has the MLP's depth + 1 weight matrices plus the two encoders' (depth >= 2: with
one hidden layer nothing is gated). Weight matrices, in order: W_u, W_v, W_1..W_depth, W_out;
``hidden`` gives the activation each non-final matrix produces: U, V, H_1, Z_1..Z_{depth-1}
(len(hidden) = len(weight_matrices) - 1, as for the MLP). With ``rwf`` every W = diag(exp(s)) V
and the SNR is over V.
"""
from __future__ import annotations

from typing import Annotated, Optional    # not `X | None`: pinn_cli.schema checks only typing.Union

import torch
from torch import nn

from pinn_cli.schema import MAX_COUNT, Count, Range
from pinn_cli.models.base import Model
from pinn_cli.models.layers import ACTIVATION_FNS, Activation
from pinn_cli.models.options import EmbeddingOptions, RWFOptions, embedding_options, rwf_options

GatedDepth = Annotated[int, Range(2, MAX_COUNT)]


class ModifiedMLP(Model):
    """Modified (gated) MLP.

    Args:
        in_dim: number of input coordinates d.
        out_dim: number of outputs m.
        depth: hidden layers H_1..H_depth on the main path (>= 2).
        width: units per hidden layer and encoder.
        activation: ``tanh``, ``sin`` or ``gelu``.
        embedding: the input embedding's options (:mod:`pinn_cli.models.options`; default 0
            Fourier features, the problem's periodic axes when built from YAML).
        rwf: random weight factorization's options (default: none).
    """

    def __init__(self, in_dim: int, out_dim: int = 1, depth: GatedDepth = 4, width: Count = 64,
                 activation: Activation = "tanh", embedding: Optional[EmbeddingOptions] = None,
                 rwf: Optional[RWFOptions] = None):
        super().__init__(in_dim, out_dim)
        self.embed = embedding_options(embedding, features=0).build(in_dim)
        dense = rwf_options(rwf).dense()
        d = self.embed.out_dim
        self.enc_u, self.enc_v = dense(d, width), dense(d, width)
        main = [dense(d, width)] + [dense(width, width) for _ in range(depth - 1)]
        self.layers = nn.ModuleList(main)                                # W_1..W_depth
        self.out = dense(width, out_dim)
        self.act = ACTIVATION_FNS[activation]

    def weight_matrices(self) -> list[torch.Tensor]:
        """W_u, W_v, W_1..W_depth, W_out (V under RWF); biases, scales and B excluded."""
        dense = [self.enc_u, self.enc_v, *self.layers, self.out]
        return [layer.matrix for layer in dense]

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """-> (H_depth (N, width), [U, V, H_1, Z_1..Z_{depth-1}] each (N, width))."""
        z = self.embed(x)                                            # (N, d')
        u, v = self.act(self.enc_u(z)), self.act(self.enc_v(z))      # (N, width) each
        h = self.act(self.layers[0](z))                              # (N, width)  H_1
        acts = [u, v, h]
        v_u = v - u                                                  # (N, width)
        for layer in self.layers[1:]:
            g = self.act(layer(h))                                   # (N, width)  Z_l
            h = u + g * v_u                                          # (N, width)  H_{l+1}
            acts.append(g)
        return h, acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d) -> u: (N, m)."""
        return self.out(self._run(x)[0])                             # (N, m)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """U, V, H_1, Z_1..Z_{depth-1}, each (N, width), for entropy and saturation."""
        return self._run(x)[1]
