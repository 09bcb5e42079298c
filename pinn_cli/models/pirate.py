"""PirateNet (Wang et al. 2024, "PirateNets: physics-informed deep learning with residual adaptive
networks"): gated residual blocks whose skip weights start at zero.

With Phi(x) the embedding (random Fourier features, after an optional exact periodic embedding;
:mod:`pinn_cli.models.layers`), D = 2 k its width, and act the activation:

    U = act(W_u Phi + b_u),   V = act(W_v Phi + b_v)                       (N, width) each
    x^(1) = Phi
    block l = 1..blocks:
        f  = act(W_1^(l) x^(l) + b_1^(l)),   z1 = f * U + (1 - f) * V       (N, width)
        g  = act(W_2^(l) z1 + b_2^(l)),      z2 = g * U + (1 - g) * V       (N, width)
        h  = act(W_3^(l) z2 + b_3^(l))                                     (N, D)
        x^(l+1) = alpha_l h + (1 - alpha_l) x^(l),   alpha_l trainable, initialised at 0

(each gate computed as V + f * (U - V), one product: on derivative streams a Leibniz sum).
    u = W_out x^(blocks+1) + b_out

At initialisation every alpha_l = 0, so x^(blocks+1) = Phi exactly and u = W_out Phi(x) + b_out is
a linear model of the embedding. The paper's physics-informed initialisation of W_out (a least
squares fit to the initial data) is not done here: W_out is Xavier-normal like every other matrix.

Weight matrices, in order: W_u, W_v, (W_1, W_2, W_3) per block, W_out (B and alpha excluded; with
``rwf`` V of each W = diag(exp(s)) V). ``hidden`` gives the activation each non-final matrix
produces: U, V, (f, g, h) per block, so len(hidden) = len(weight_matrices) - 1.
"""
from __future__ import annotations

from typing import Optional    # not `X | None`: pinn_cli.schema checks only typing.Union

import torch
from torch import nn

from pinn_cli.schema import Count
from pinn_cli.models.base import Model
from pinn_cli.models.layers import ACTIVATION_FNS, Activation
from pinn_cli.models.options import EmbeddingOptions, RWFOptions, embedding_options, rwf_options


class PirateBlock(nn.Module):
    """One gated residual block's three dense layers: D -> width -> width -> D."""

    def __init__(self, dense, dim: int, width: int):
        super().__init__()
        self.layers = nn.ModuleList([dense(dim, width), dense(width, width), dense(width, dim)])

    def forward(self, x, u, v, alpha, act, u_v=None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x (N, D), gates u, v (N, width), alpha (), u_v = u - v -> (x_next (N, D), [f, g, h])."""
        u_v = u - v if u_v is None else u_v                          # (N, width)
        f = act(self.layers[0](x))                                   # (N, width)
        z1 = v + f * u_v                                             # (N, width)
        g = act(self.layers[1](z1))                                  # (N, width)
        z2 = v + g * u_v                                             # (N, width)
        h = act(self.layers[2](z2))                                  # (N, D)
        return alpha * h + (1 - alpha) * x, [f, g, h]                # (N, D)


class PirateNet(Model):
    """PirateNet.

    Args:
        in_dim: number of input coordinates d.
        out_dim: number of outputs m.
        blocks: number of residual blocks (3 dense layers each).
        width: units of the gates U, V and of each block's inner layers.
        activation: ``tanh``, ``sin`` or ``gelu``.
        embedding: the input embedding's options (:mod:`pinn_cli.models.options`; default 32
            Fourier features, the problem's periodic axes when built from YAML).
        rwf: random weight factorization's options (default: none).
    """

    def __init__(self, in_dim: int, out_dim: int = 1, blocks: Count = 3, width: Count = 64,
                 activation: Activation = "tanh", embedding: Optional[EmbeddingOptions] = None,
                 rwf: Optional[RWFOptions] = None):
        super().__init__(in_dim, out_dim)
        self.embed = embedding_options(embedding, features=32).build(in_dim)
        dense = rwf_options(rwf).dense()
        d = self.embed.out_dim
        self.enc_u, self.enc_v = dense(d, width), dense(d, width)
        self.blocks = nn.ModuleList(PirateBlock(dense, d, width) for _ in range(blocks))
        self.alpha = nn.Parameter(torch.zeros(blocks))                              # (blocks,)
        self.out = dense(d, out_dim)
        self.act = ACTIVATION_FNS[activation]

    def weight_matrices(self) -> list[torch.Tensor]:
        """W_u, W_v, W_1..W_3 of each block, W_out (V under RWF); B, alpha, biases excluded."""
        inner = [layer for block in self.blocks for layer in block.layers]
        return [layer.matrix for layer in [self.enc_u, self.enc_v, *inner, self.out]]

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """-> (x^(blocks+1) (N, D), [U, V, f, g, h of each block])."""
        phi = self.embed(x)                                          # (N, D)
        u, v = self.act(self.enc_u(phi)), self.act(self.enc_v(phi))  # (N, width) each
        acts, h, u_v = [u, v], phi, u - v
        for block, alpha in zip(self.blocks, self.alpha):
            h, fgh = block(h, u, v, alpha, self.act, u_v)            # (N, D)
            acts += fgh
        return h, acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d) -> u: (N, m)."""
        return self.out(self._run(x)[0])                             # (N, m)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """U, V and each block's f, g, h, each (N, width) or (N, D), for entropy and saturation."""
        return self._run(x)[1]
