"""Building blocks shared by the Fourier MLP, the modified MLP and PirateNet.

Dense layer, optionally with random weight factorization (RWF, Wang et al. 2022):

    y = W x + b,    W (out, in) Xavier-normal:  W_ij ~ N(0, 2 / (in + out)),
    b_i ~ U(-1/sqrt(in), 1/sqrt(in))            (PyTorch's default bias, as in the MLP)

    RWF:  W = diag(exp(s)) V,   s_i ~ N(mu, sigma) per output unit,   V = diag(exp(-s)) W0,

so that at initialisation the effective W equals the Xavier-normal W0 it was factorised from;
training then moves (s, V) instead of W (defaults mu = 1.0, sigma = 0.1 as in the paper).

Which matrix the SNR is over. ``weight()`` is the effective W the layer applies. The SNR and the
other per-layer diagnostics (the /weights norms too) take ``matrix``, the trainable 2-D
parameter: W itself, or V under RWF (s, a vector, is left out like the biases). The effective W
is not a leaf of the graph - it is recomputed at every forward - so ``torch.autograd.grad(loss,
W)`` could not reach it; and since dL/dV = diag(exp(s)) dL/dW with the same row scaling for every
batch, an SNR over the effective W follows from the V gradients by scaling row i by exp(-s_i).
The layer applies V in the matmul and the scale after it, y = exp(s) * (x V^T) + b (the same map),
so that V is the matrix of a linear map: on derivative streams its SNR batch shares come from the
step's own backward (:mod:`pinn_cli.fields.capture`).

Input embedding, applied in two stages:

    periodic (optional): x_j -> [cos(2 pi x_j / P_j), sin(2 pi x_j / P_j)] for each chosen axis j,
        in place of x_j, so everything after it is exactly P_j-periodic in x_j
        (Allen-Cahn: inputs (t, x), x periodic on [-1, 1]: axes [1], periods [2.0]);
    Fourier (optional, k = features > 0): z -> [cos(2 pi z B), sin(2 pi z B)],
        B (d', k) ~ N(0, sigma^2), a fixed buffer (not trained, not a weight matrix).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Literal

import torch
from torch import nn

from pinn_cli.errors import ConfigError

Activation = Literal["tanh", "sin", "gelu"]
ACTIVATION_FNS = {"tanh": torch.tanh, "sin": torch.sin, "gelu": nn.functional.gelu}


def xavier_normal(fan_out: int, fan_in: int) -> torch.Tensor:
    """A (fan_out, fan_in) matrix with entries ~ N(0, 2 / (fan_in + fan_out))."""
    return torch.randn(fan_out, fan_in) * math.sqrt(2.0 / (fan_in + fan_out))


def factorise(w0: torch.Tensor, mu: float, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """RWF of w0 (out, in): -> s (out,) ~ N(mu, sigma), V = diag(exp(-s)) w0 (out, in)."""
    s = mu + sigma * torch.randn(w0.shape[0])                 # (out,)
    return s, w0 / s.exp()[:, None]                            # (out,), (out, in)


class Dense(nn.Module):
    """y = W x + b with W Xavier-normal, optionally factorised as W = diag(exp(s)) V.

    Args:
        in_features: input width.
        out_features: output width.
        rwf: factorise the weight (random weight factorization).
        rwf_mu: mean of s.
        rwf_sigma: standard deviation of s.
    """

    def __init__(self, in_features: int, out_features: int, rwf: bool = False,
                 rwf_mu: float = 1.0, rwf_sigma: float = 0.1):
        super().__init__()
        w0 = xavier_normal(out_features, in_features)         # (out, in)
        self.rwf = bool(rwf)
        if self.rwf:
            s, v = factorise(w0, rwf_mu, rwf_sigma)
            self.s, self.v = nn.Parameter(s), nn.Parameter(v)
        else:
            self.w = nn.Parameter(w0)
        bound = 1.0 / math.sqrt(in_features)
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    @property
    def matrix(self) -> nn.Parameter:
        """The trainable weight matrix: W, or V under RWF (what the SNR is over)."""
        return self.v if self.rwf else self.w

    def weight(self) -> torch.Tensor:
        """The effective W (out, in) the layer applies: diag(exp(s)) V under RWF."""
        return self.s.exp()[:, None] * self.v if self.rwf else self.w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in) -> (N, out); under RWF exp(s) * (x V^T) + b."""
        if self.rwf:
            return nn.functional.linear(x, self.v) * self.s.exp() + self.bias
        return nn.functional.linear(x, self.w, self.bias)


def dense_factory(rwf: bool, rwf_mu: float, rwf_sigma: float):
    """Dense(in, out) with a model's RWF settings bound."""
    return partial(Dense, rwf=rwf, rwf_mu=rwf_mu, rwf_sigma=rwf_sigma)


def check_periodic(in_dim: int, axes, periods) -> tuple[list[int], list[float]]:
    """Validate the periodic axes and their periods; -> plain lists."""
    axes = [int(a) for a in (axes or [])]
    periods = [float(p) for p in (periods or [])]
    if len(set(axes)) != len(axes) or any(not 0 <= a < in_dim for a in axes):
        raise ConfigError("model.embedding.periodic_axes", axes,
                          f"distinct input axes in 0..{in_dim - 1} (the PDE has {in_dim} inputs)")
    if len(periods) != len(axes) or any(not (math.isfinite(p) and p > 0) for p in periods):
        raise ConfigError("model.embedding.periods", periods,
                          f"one finite period > 0 per periodic axis ({len(axes)} axes)")
    return axes, periods


class Embedding(nn.Module):
    """x (N, d) -> (N, out_dim): exact periodic embedding of chosen axes, then Fourier features.

    Args:
        in_dim: number of input coordinates d.
        features: k, the number of random frequencies (0: no Fourier features).
        sigma: standard deviation of the frequencies B.
        periodic_axes: the input axes j made exactly periodic ([] or None: none).
        periods: P_j for each of those axes.

    ``out_dim`` is 2 k with Fourier features, else d + (number of periodic axes).
    """

    def __init__(self, in_dim: int, features: int = 0, sigma: float = 1.0,
                 periodic_axes=None, periods=None):
        super().__init__()
        axes, pers = check_periodic(in_dim, periodic_axes, periods)
        self.axes = axes
        self.register_buffer("periods", torch.tensor(pers, dtype=torch.float64))     # (p,)
        d = in_dim + len(axes)
        self.features = int(features)
        self.register_buffer("B", sigma * torch.randn(d, self.features))              # (d', k)
        self.out_dim = 2 * self.features if self.features else d

    def periodic(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, d) -> (N, d + p): each periodic x_j replaced in place by its (cos, sin) pair."""
        if not self.axes:
            return x
        cols = list(x.unbind(1))                                                      # d x (N,)
        for j, period in zip(self.axes, self.periods):
            theta = (2 * math.pi) * (x[:, j] / period)                                # (N,)
            cols[j] = torch.stack([theta.cos(), theta.sin()], 1)                      # (N, 2)
        return torch.cat([c if c.ndim == 2 else c[:, None] for c in cols], 1)         # (N, d')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d) -> (N, out_dim)."""
        z = self.periodic(x)                                                          # (N, d')
        if not self.features:
            return z
        proj = (2 * math.pi) * (z @ self.B)                                           # (N, k)
        return torch.cat([proj.cos(), proj.sin()], 1)                                 # (N, 2k)
