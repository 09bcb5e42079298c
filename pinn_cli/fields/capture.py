"""The SNR capture: every weight matrix's batch shares, from the backward that the step does anyway.

Inside ``with field.capture(per_batch) as cap:`` the field runs the model on derivative streams
(:mod:`pinn_cli.fields.jet`), and every linear map by one of the model's weight matrices W goes
through :meth:`Capture.linear`: its backward (:class:`pinn_cli.fields.linear.StreamLinear`) forms
the share C_b of each batch b of ``per_batch`` consecutive points, and dL/dW as their sum, at the
cost of the weight gradient itself. :meth:`Capture.shares` returns them per weight matrix (in
``weight_matrices()`` order, every call of the field in the scope added up) once the scope's
backward has run; :mod:`pinn_cli.diagnostics.snr` turns them into the batch gradients' moments.

RWF layers apply V in the matmul and the scale diag(exp(s)) after it (:mod:`pinn_cli.models.layers`),
so the shares are those of V, the matrix ``weight_matrices()`` names. The shares are incomplete,
and :meth:`Capture.shares` returns None (the SNR then takes one backward per batch), when a
weight matrix enters the model other than through a linear map, when a matrix gets no share at
all, or when the field falls back to nested autograd in the scope; ``cap.problem`` says why.
"""
from __future__ import annotations

import torch

from pinn_cli.fields.linear import StreamLinear


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
        self._parts: list[list[tuple]] = [[] for _ in self.weights]    # (first batch, shares)
        self.problem: str | None = None
        self.first_batch = 0            # the batch the field's current piece of points starts at

    def tracks(self, t) -> bool:
        """Whether ``t`` is one of the weight matrices."""
        return id(t) in self._layer

    def spoil(self, why: str) -> None:
        """Mark the shares incomplete (the first reason is kept)."""
        self.problem = self.problem or why

    def linear(self, h: torch.Tensor, w: torch.Tensor, live: int) -> torch.Tensor:
        """H (S, N, in) @ W^T for the weight matrix W (the first ``live`` streams nonzero), its
        shares recorded by the backward."""
        if h.ndim != 3 or h.shape[1] % self.per_batch:
            self.spoil(f"a linear map on {tuple(h.shape[1:])} rows, not whole batches of points")
            return StreamLinear.apply(h, w, live, 0, None)
        sink = (self._parts[self._layer[id(w)]], self.first_batch)
        return StreamLinear.apply(h, w, live, self.per_batch, sink)

    def shares(self) -> list[torch.Tensor] | None:
        """One (B_c, out, in) tensor per weight matrix, the shares C_b of this scope's points
        (pieces of the points side by side, several calls of the field on them added up); None
        when they are incomplete (``problem`` says why)."""
        if self.problem is None:
            missing = [l for l, p in enumerate(self._parts) if not p]
            if missing:
                self.spoil(f"weight matrix {missing[0]} got no share (not a linear map of the streams)")
        if self.problem is not None:
            return None
        out = []
        for parts in self._parts:
            if len(parts) == 1 and parts[0][0] == 0:
                out.append(parts[0][1])
                continue
            n = max(first + len(share) for first, share in parts)
            total = parts[0][1].new_zeros((n, *parts[0][1].shape[1:]))             # (B_c, out, in)
            for first, share in parts:                   # pieces side by side, calls added up
                total[first:first + len(share)] += share
            out.append(total)
        return out
