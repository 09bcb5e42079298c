"""The linear maps of derivative streams: one matmul over every row (streams x points).

A linear map acts on every stream of a jet alike, Z = H W^T with H (S, N, in) and Z (S, N, out),
so each weight matrix W enters exactly one matmul over rows = streams x points, and

    dL/dH = dL/dZ W,        dL/dW = sum_rows dL/dZ_row^T H_row.

:class:`StreamLinear` computes both over the live streams only: streams of H known to be zero
(``zeros``, a suffix of the streams: the input's derivatives of order >= 2 in the first layer)
give zero rows of Z and nothing to dL/dW, and their dL/dH is left at zero (those streams are zero
whatever the parameters, so a gradient on them meets only zeros on its way back). A skinny dL/dW
(the first layer's in = d = 2) is formed as (H^T dL/dZ)^T, which the BLAS does far faster.

Under a capture (``per_batch`` > 0, :class:`pinn_cli.fields.capture.Capture`) the backward also
forms the share of each batch b of ``per_batch`` consecutive points,

    C_b = sum_{streams s} sum_{i in b} dZ_{s,i}^T H_{s,i}           (out, in),

hands them to the capture and autograd dL/dW = sum_b C_b: the same sum over
the rows in another order, so the shares cost what the weight gradient costs.
"""
from __future__ import annotations

import torch


@torch.no_grad()
def batch_shares(h: torch.Tensor, dz: torch.Tensor, per_batch: int) -> torch.Tensor:
    """Each batch's share C_b of dL/dW for one linear map Z = H W^T of a chunk's streams.

    Args:
        h: (S, n_c, in) the layer's input rows (streams x points); n_c holds whole batches.
        dz: (S, n_c, out) dL/dZ for the same rows.
        per_batch: n, points per batch.

    Returns:
        (B_c, out, in): C_b = sum over the rows of batch b (its n points in every stream) of
        dz_row^T h_row; their sum over b is dL/dW.
    """
    s, n_c, d_in = h.shape
    b_c, d_out = n_c // per_batch, dz.shape[-1]
    skinny = d_in < d_out                                   # form C_b^T (in, out): faster
    share = None
    for k in range(s):
        hk = h[k].reshape(b_c, per_batch, d_in)                             # (B_c, n, in)
        gk = dz[k].reshape(b_c, per_batch, d_out)                           # (B_c, n, out)
        a, b = (hk.transpose(1, 2), gk) if skinny else (gk.transpose(1, 2), hk)
        share = a @ b if share is None else share.baddbmm_(a, b)
    return share.transpose(1, 2) if skinny else share


class StreamLinear(torch.autograd.Function):
    """(H (S, N, in), W (out, in)) -> H W^T (S, N, out) over the first ``live`` streams (the
    others are zero); with ``per_batch`` > 0 the backward appends (first batch, the batch shares
    (B_c, out, in)) to the list of ``sink`` = (list, first batch) and returns their sum as dL/dW."""

    @staticmethod
    def forward(ctx, h, w, live: int, per_batch: int, sink):
        ctx.save_for_backward(h, w)
        ctx.live, ctx.per_batch, ctx.sink = live, per_batch, sink
        if live == len(h):
            return h @ w.T
        z = h.new_empty(h.shape[:-1] + w.shape[:1])
        torch.matmul(h[:live], w.T, out=z[:live])
        z[live:].zero_()
        return z

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dz):
        h, w = ctx.saved_tensors
        live = ctx.live
        dh = None
        if ctx.needs_input_grad[0] and live == len(h):
            dh = dz @ w
        elif ctx.needs_input_grad[0]:
            dh = torch.zeros_like(h)
            torch.matmul(dz[:live], w, out=dh[:live])
        hl, gl = h[:live], dz[:live]
        if ctx.per_batch:
            shares = batch_shares(hl, gl, ctx.per_batch)                       # (B_c, out, in)
            parts, first = ctx.sink
            parts.append((first, shares))
            return dh, shares.sum(0), None, None, None
        h2, g2 = hl.reshape(-1, h.shape[-1]), gl.reshape(-1, dz.shape[-1])
        dw = (h2.T @ g2).T if h.shape[-1] < dz.shape[-1] else g2.T @ h2
        return dh, dw, None, None, None


def linear(h: torch.Tensor, w: torch.Tensor, zeros: frozenset = frozenset(), capture=None):
    """Z = H W^T for stacked streams H (S, N, in): :class:`StreamLinear`, through ``capture``'s
    shares when it tracks W, skipping the streams in ``zeros`` when they form a suffix."""
    live = len(h)
    while live - 1 in zeros and live > 1:
        live -= 1
    if any(s < live for s in zeros):                        # not a suffix: keep every stream
        live = len(h)
    if capture is not None and capture.tracks(w):
        return capture.linear(h, w, live)
    return StreamLinear.apply(h, w, live, 0, None)
