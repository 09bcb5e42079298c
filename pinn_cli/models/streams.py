"""Forward propagation of derivative streams through an MLP.

For a layer z = W h + b followed by sigma, the derivatives of the activations with respect to
input coordinates i, j follow from the chain rule:

    z_i  = W h_i                    h_i  = sigma'(z) z_i
    z_ij = W h_ij                   h_ij = sigma'(z) z_ij + sigma''(z) z_i z_j

with h_0 = x, (h_0)_i = e_i, (h_0)_ij = 0. The value and all derivative streams share W, so one
matmul over the stacked streams, (S*N, w) x (w, w'), serves them all; the bias enters the value
stream only. Compared with nested ``torch.autograd.grad``, this builds one forward graph instead
of a graph of a graph, and every weight matrix is used in exactly one matmul, which makes its
gradient a plain sum of outer products over rows (points x streams). The batch-gradient SNR uses
that: summing the rows per batch gives every batch gradient from the training step's own backward.
"""
from __future__ import annotations

import torch


def _tanh(z):
    s = torch.tanh(z)
    ds = 1 - s * s
    return s, ds, -2 * s * ds


def _sin(z):
    s = torch.sin(z)
    return s, torch.cos(z), -s


# activation -> z -> (sigma, sigma', sigma'')
ACTIVATIONS = {"tanh": _tanh, "sin": _sin}


def stream_forward(x: torch.Tensor, params: list[tuple[torch.Tensor, torch.Tensor]],
                   activation: str, first: list[int], second: list[tuple[int, int]],
                   taps: list | None = None) -> torch.Tensor:
    """Propagate value, first and second derivative streams through the network.

    Args:
        x: (N, d) input points.
        params: [(W_l (out, in), b_l (out,))] for each layer; the last one is linear.
        activation: a key of ``ACTIVATIONS``.
        first: input coordinates i for which du/dx_i is wanted (and which second needs).
        second: pairs (i, j), i and j in ``first``, for which d2u/dx_i dx_j is wanted.
        taps: if a list, each layer appends (H, Z): its stacked input (S, N, in) and its
            pre-activation output (S, N, out) with ``retain_grad()`` set, for per-batch gradients.

    Returns:
        (S, N, m): stream 0 is u, then one per ``first``, then one per ``second``.
    """
    act = ACTIVATIONS[activation]
    n, d = x.shape
    pos = {i: 1 + k for k, i in enumerate(first)}  # stream index of each first derivative
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    h = torch.cat([x[None],                                                 # (1, N, d)
                   eye[first][:, None, :].expand(len(first), n, d),         # (F, N, d)
                   x.new_zeros(len(second), n, d)])                         # (P, N, d)
    for l, (w, b) in enumerate(params):
        z = h @ w.T                                        # (S, N, out): one matmul for all streams
        if taps is not None:
            z.retain_grad()
            taps.append((h, z))
        z0 = z[0] + b                                      # (N, out) value stream
        if l == len(params) - 1:
            return torch.cat([z0[None], z[1:]])
        s, ds, dds = act(z0)                               # (N, out) each
        h_first = ds * z[1:1 + len(first)]                 # (F, N, out)
        h_second = [ds * z[1 + len(first) + k] + dds * z[pos[i]] * z[pos[j]]
                    for k, (i, j) in enumerate(second)]    # P x (N, out)
        h = torch.cat([s[None], h_first, *(t[None] for t in h_second)])
    raise ValueError("params must hold at least one layer")
