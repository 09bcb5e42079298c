"""Forward propagation of derivative streams through an MLP.

For a layer z = W h + b followed by sigma, the derivatives of the activations with respect to
input coordinates i, j follow from the chain rule:

    z_i  = W h_i                    h_i  = sigma'(z) z_i
    z_ij = W h_ij                   h_ij = sigma'(z) z_ij + sigma''(z) z_i z_j

with h_0 = x, (h_0)_i = e_i, (h_0)_ij = 0. The value and all derivative streams share W, so one
matmul over the stacked streams, (S*N, w) x (w, w'), serves them all; the bias enters the value
stream only. Every weight matrix is used in exactly one matmul, which makes its gradient a plain
sum of outer products over rows (points x streams): the batch-gradient SNR uses that.

The activation step is one autograd Function (:class:`StreamActivation`) with a hand-written
backward. Written with ordinary tensor ops, each slice of the stacked tensor would get a backward
that allocates and zero-fills a full (S, N, w) gradient, and each op a fresh output; on a CPU,
page-faulting fresh memory costs several times the arithmetic. The backward, with
s1 = sigma'(z0), s2 = sigma''(z0), s3 = sigma'''(z0) and output gradients g:

    dz_ij = g_ij s1
    dz_i  = g_i s1 + sum_{pairs (i, j)} g_ij s2 z_j        (z_j counted twice when i = j)
    dz_0  = g_0 s1 + sum_i g_i s2 z_i + sum_{(i, j)} g_ij (s2 z_ij + s3 z_i z_j)
"""
from __future__ import annotations

import functools

import torch


def _tanh(z0, out):
    s = torch.tanh(z0, out=out)
    s1 = torch.mul(s, s).neg_().add_(1)
    s2 = torch.mul(s, s1).mul_(-2)
    return s, s1, s2


def _tanh_third(s, s1, s2):
    return -2 * s1 * s1 - 2 * s * s2


def _sin(z0, out):
    c = torch.cos(z0)                                    # before z0 (= out) is overwritten
    s = torch.sin(z0, out=out)
    return s, c, -s


def _sin_third(s, s1, s2):
    return -s1


# activation -> (z0 -> (sigma, sigma', sigma''), (sigma, sigma', sigma'') -> sigma''')
ACTIVATIONS = {"tanh": (_tanh, _tanh_third), "sin": (_sin, _sin_third)}


class StreamActivation(torch.autograd.Function):
    """(z (S, N, w), b (w,)) -> h (S, N, w): the activation of the value stream z[0] + b and of
    every derivative stream, as in the module docstring. ``first`` lists the streams 1..F, and
    ``pairs`` gives, for each second-derivative stream, the stream indices of its (i, j)."""

    @staticmethod
    def forward(ctx, z, b, activation: str, n_first: int, pairs: tuple):
        act, _ = ACTIVATIONS[activation]
        h = torch.empty_like(z)
        s, s1, s2 = act(torch.add(z[0], b, out=h[0]), out=h[0])
        torch.mul(z[1:1 + n_first], s1, out=h[1:1 + n_first])
        for k, (i, j) in enumerate(pairs):
            p = 1 + n_first + k
            torch.mul(z[p], s1, out=h[p])
            h[p].addcmul_(z[i] * z[j], s2)
        ctx.save_for_backward(z, h, s1, s2)              # s is h[0]; an output view can't be saved
        ctx.activation, ctx.n_first, ctx.pairs = activation, n_first, pairs
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        z, h, s1, s2 = ctx.saved_tensors
        s = h[0]
        n_first, pairs = ctx.n_first, ctx.pairs
        dz = torch.empty_like(z)
        torch.mul(g, s1, out=dz)                         # every stream: g s1
        dz0, tmp = dz[0], torch.empty_like(s)
        for i in range(1, 1 + n_first):
            dz0.addcmul_(torch.mul(g[i], z[i], out=tmp), s2)
        if pairs:
            s3 = ACTIVATIONS[ctx.activation][1](s, s1, s2)
        for k, (i, j) in enumerate(pairs):
            p = 1 + n_first + k
            gp = g[p]
            dz0.addcmul_(torch.mul(gp, z[p], out=tmp), s2)
            dz0.addcmul_(torch.mul(z[i], z[j], out=tmp).mul_(gp), s3)
            torch.mul(gp, s2, out=tmp)
            dz[i].addcmul_(tmp, z[j])
            dz[j].addcmul_(tmp, z[i])
        return dz, dz0.sum(0), None, None, None


def stream_activation_ops(z, b, activation: str, n_first: int, pairs: tuple) -> torch.Tensor:
    """What :class:`StreamActivation` computes, in plain tensor ops: autograd derives the backward,
    and torch.compile can fuse the elementwise work of each layer, forward and backward."""
    if activation == "tanh":
        s = torch.tanh(z[0] + b)
        s1 = 1 - s * s
        s2 = -2 * s * s1
    else:
        s, s1 = torch.sin(z[0] + b), torch.cos(z[0] + b)
        s2 = -s
    rows = [s] + [s1 * z[i] for i in range(1, 1 + n_first)]
    rows += [s1 * z[1 + n_first + k] + s2 * z[i] * z[j] for k, (i, j) in enumerate(pairs)]
    return torch.stack(rows)


def stream_forward(x: torch.Tensor, params: list[tuple[torch.Tensor, torch.Tensor]],
                   activation: str, first: list[int], second: list[tuple[int, int]],
                   taps: list | None = None, act_fn=StreamActivation.apply) -> torch.Tensor:
    """Propagate value, first and second derivative streams through the network.

    Args:
        x: (N, d) input points.
        params: [(W_l (out, in), b_l (out,))] for each layer; the last one is linear.
        activation: a key of ``ACTIVATIONS``.
        first: input coordinates i for which du/dx_i is wanted (and which second needs).
        second: pairs (i, j), i and j in ``first``, for which d2u/dx_i dx_j is wanted.
        taps: if a list, each layer appends (H, Z): its stacked input (S, N, in) and its
            pre-activation output (S, N, out) with ``retain_grad()`` set, for per-batch gradients.
        act_fn: the stream activation, :class:`StreamActivation` or :func:`stream_activation_ops`.

    Returns:
        (S, N, m): stream 0 is u, then one per ``first``, then one per ``second``.
    """
    n, d = x.shape
    pos = {i: 1 + k for k, i in enumerate(first)}               # stream index of d/dx_i
    pairs = tuple((pos[i], pos[j]) for i, j in second)
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    h = torch.cat([x[None],                                                 # (1, N, d)
                   eye[first][:, None, :].expand(len(first), n, d),         # (F, N, d)
                   x.new_zeros(len(second), n, d)])                         # (P, N, d)
    for l, (w, b) in enumerate(params):
        z = h @ w.T                                        # (S, N, out): one matmul for all streams
        if taps is not None:
            z.retain_grad()
            taps.append((h, z))
        if l == len(params) - 1:
            return torch.cat([(z[0] + b)[None], z[1:]])          # (S, N, m), m is small
        h = act_fn(z, b, activation, len(first), pairs)
    raise ValueError("params must hold at least one layer")


def _ops_stream_forward(x, params, activation, first, second):
    return stream_forward(x, params, activation, first, second, act_fn=stream_activation_ops)


@functools.cache
def _compiled():
    return torch.compile(_ops_stream_forward, dynamic=False)   # imports the compiler: ~2 s


def compiled_stream_forward(x, params, activation: str, first, second) -> torch.Tensor:
    """:func:`stream_forward` with :func:`stream_activation_ops` under torch.compile (no taps);
    compiled on the first call for each chunk shape."""
    return _compiled()(x, params, activation, first, second)
