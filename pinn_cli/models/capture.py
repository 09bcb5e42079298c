"""The SNR capture: every weight matrix's batch shares, from the backward that the step does anyway.

Inside ``with field.capture(per_batch) as cap:`` the field runs the model on derivative streams
(:mod:`pinn_cli.models.jet`), and every linear map by one of the model's weight matrices W is
the Function :class:`BatchShares`. Its forward is the ordinary Z = H W^T over all rows (streams x
points, H (S, N, in)); its backward, besides dH = dZ W, forms the share of each batch b of
``per_batch`` consecutive points,

    C_b = sum_{streams s} sum_{i in b} dZ_{s,i}^T H_{s,i}           (out, in),

and hands autograd dL/dW = sum_b C_b, which is the same sum over the rows in another order. The
shares cost what the weight gradient costs, so a capturing step is as dear as a plain step on the
streams. :meth:`Capture.shares` returns them per weight matrix (in ``weight_matrices()`` order,
every call of the field in the scope added up) once the scope's backward has run;
:mod:`pinn_cli.diagnostics.snr` turns them into the batch gradients' moments.

RWF layers apply V in the matmul and the scale diag(exp(s)) after it (:mod:`pinn_cli.models.layers`),
so the shares are those of V, the matrix ``weight_matrices()`` names. The shares are incomplete,
and :meth:`Capture.shares` returns None (the SNR then takes one backward per batch), when a
weight matrix enters the model other than through a linear map, when a matrix gets no share at
all, or when the field falls back to nested autograd in the scope; ``cap.problem`` says why.
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
    share = None                                            # (B_c, out, in)
    for k in range(s):
        hk = h[k].reshape(n_c // per_batch, per_batch, d_in)                # (B_c, n, in)
        gk = dz[k].reshape(n_c // per_batch, per_batch, -1).transpose(1, 2)  # (B_c, out, n)
        share = gk @ hk if share is None else share.baddbmm_(gk, hk)
    return share


class BatchShares(torch.autograd.Function):
    """(H (S, N, in), W (out, in)) -> H W^T (S, N, out); the backward appends each batch's share
    (B_c, out, in) to ``sink`` and returns their sum as dL/dW."""

    @staticmethod
    def forward(ctx, h, w, per_batch: int, sink: list):
        ctx.save_for_backward(h, w)
        ctx.per_batch, ctx.sink = per_batch, sink
        return h @ w.T

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dz):
        h, w = ctx.saved_tensors
        dh = dz @ w if ctx.needs_input_grad[0] else None
        shares = batch_shares(h, dz, ctx.per_batch)                    # (B_c, out, in)
        ctx.sink.append(shares)
        return dh, shares.sum(0), None, None


class Capture:
    """The batch shares of one scope.

    Args:
        weights: the model's weight matrices (``Model.weight_matrices()``).
        per_batch: n, the points of one SNR batch; every call of the field in the scope must
            hold whole batches.
    """

    def __init__(self, weights, per_batch: int):
        self.weights, self.per_batch = list(weights), int(per_batch)
        self._layer = {id(w): l for l, w in enumerate(self.weights)}
        self._parts: list[list[torch.Tensor]] = [[] for _ in self.weights]
        self.problem: str | None = None

    def tracks(self, t) -> bool:
        """Whether ``t`` is one of the weight matrices."""
        return id(t) in self._layer

    def spoil(self, why: str) -> None:
        """Mark the shares incomplete (the first reason is kept)."""
        self.problem = self.problem or why

    def linear(self, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """H (S, N, in) @ W^T for the weight matrix W, its shares recorded by the backward."""
        if h.ndim != 3 or h.shape[1] % self.per_batch:
            self.spoil(f"a linear map on {tuple(h.shape[1:])} rows, not whole batches of points")
            return h @ w.T
        return BatchShares.apply(h, w, self.per_batch, self._parts[self._layer[id(w)]])

    def shares(self) -> list[torch.Tensor] | None:
        """One (B_c, out, in) tensor per weight matrix, the shares C_b of this scope's points;
        None when they are incomplete (``problem`` says why)."""
        if self.problem is None:
            missing = [l for l, p in enumerate(self._parts) if not p]
            if missing:
                self.spoil(f"weight matrix {missing[0]} got no share (not a linear map of the streams)")
        if self.problem is not None:
            return None
        return [p[0] if len(p) == 1 else torch.stack(p).sum(0) for p in self._parts]
