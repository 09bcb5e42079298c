"""The arithmetic of derivative streams: the elementwise steps of a jet, each one autograd Function
with a hand-written backward.

A jet's streams are stacked in one tensor (S, ...): stream 0 the value, stream s the partial
derivative alpha_s (:class:`pinn_cli.models.multiindex.IndexSet`). Written with ordinary tensor
ops, every slice of the stacked tensor would get a backward that allocates and zero-fills a full
(S, ...) gradient, and every op a fresh output; on a CPU, page-faulting fresh memory costs
several times the arithmetic. Hence two Functions that read and write slices in place:

:class:`ChainRule`, h = sigma(z + b) by Faa di Bruno (``IndexSet.chain_terms``), with
s_m = sigma^(m)(z_0 + b) and terms (c, m, blocks):

    h_0 = s_0,     h_alpha = s_1 z_alpha + sum_{terms, m >= 2} c s_m prod_{beta in blocks} z_beta

and, from the output gradients g, the input gradients

    dz_alpha += g_alpha s_1 + sum_{terms of gamma holding alpha} c g_gamma s_m prod_{other blocks} z
    dz_0      = g_0 s_1 + sum_alpha g_alpha s_2 z_alpha + sum_{terms, m >= 2} c g_gamma s_{m+1} prod z,
    db        = dz_0 summed to b's shape.

:class:`Product`, h = f g by Leibniz (``IndexSet.product_terms``, terms (c, sf, sg)):

    h_alpha = sum c f_sf g_sg,     df_sf += c g_sg dh_alpha,     dg_sg += c f_sf dh_alpha.

At order <= 2 ChainRule does what the hand-fused order-2 activation of earlier versions did, op
for op: the terms are the chain rule's h_ij = s1 z_ij + s2 z_i z_j.
"""
from __future__ import annotations

import torch


def _product(tensors: list[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    """prod of ``tensors`` (at least one): the tensor itself if one, else written into ``out``."""
    if len(tensors) == 1:
        return tensors[0]
    torch.mul(tensors[0], tensors[1], out=out)
    for t in tensors[2:]:
        out.mul_(t)
    return out


class ChainRule(torch.autograd.Function):
    """(z (S, ...), b (broadcastable to z[0]) or None) -> h (S, ...), as in the module docstring.

    ``derivatives(z0, k, out)`` gives [s_0 .. s_k] (:mod:`pinn_cli.models.univariate`), s_0
    written into ``out``; ``terms`` is ``IndexSet.chain_terms(zeros)``."""

    @staticmethod
    def forward(ctx, z, b, derivatives, terms: tuple):
        k = max((m for _, ts in terms for _, m, _ in ts), default=1)
        h = torch.empty_like(z)
        z0 = torch.add(z[0], b, out=h[0]) if b is not None else h[0].copy_(z[0])
        s = derivatives(z0, k + 1, out=h[0])             # s[0] is h[0]: z0 is overwritten
        if any(x is s[0] for x in s[1:]):                # exp, sin: s_m = s_0; h[0] can't be saved
            s0 = s[0].clone()
            s = [s[0]] + [s0 if x is s[0] else x for x in s[1:]]
        torch.mul(z[1:], s[1], out=h[1:])
        tmp = torch.empty_like(s[1])
        for a, ts in terms:
            for c, m, blocks in ts:
                if m > 1 and s[m] is not None:
                    h[a].addcmul_(_product([z[x] for x in blocks], tmp), s[m], value=c)
        ctx.save_for_backward(z, *[x if x is not None else torch.empty(0) for x in s[1:]])
        ctx.terms, ctx.b_shape = terms, None if b is None else b.shape
        ctx.none = [x is None for x in s[1:]]
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        z, *rest = ctx.saved_tensors
        s = [None] + [None if none else x for none, x in zip(ctx.none, rest)]   # s[m], m >= 1
        dz = torch.mul(g, s[1])                           # every stream: g_alpha s_1
        dz0, tmp, gs = dz[0], torch.empty_like(s[1]), torch.empty_like(s[1])
        for a, ts in ctx.terms:
            for c, m, blocks in ts:
                if m == 1:                                # s_1 z_alpha: dz_0 += g s_2 z_alpha
                    if s[2] is not None:
                        dz0.addcmul_(torch.mul(g[a], z[a], out=tmp), s[2])
                    continue
                if len(s) > m + 1 and s[m + 1] is not None:
                    torch.mul(g[a], s[m + 1], out=gs)
                    dz0.addcmul_(_product([z[x] for x in blocks], tmp), gs, value=c)
                if s[m] is None:
                    continue
                torch.mul(g[a], s[m], out=gs)
                for p, x in enumerate(blocks):
                    others = [z[y] for q, y in enumerate(blocks) if q != p]
                    dz[x].addcmul_(gs, _product(others, tmp), value=c)
        db = None
        if ctx.b_shape is not None:
            db = dz0.sum_to_size(ctx.b_shape)
            db = db.clone() if db.data_ptr() == dz0.data_ptr() else db    # not a view of dz
        return dz, db, None, None


class Product(torch.autograd.Function):
    """(f (S, ...), g (S, ...)) of one shape -> f g (S, ...) by Leibniz; ``terms`` is
    ``IndexSet.product_terms(zeros_f, zeros_g)``, streams without a term are zero."""

    @staticmethod
    def forward(ctx, f, g, terms: tuple):
        h = torch.zeros_like(f) if len(terms) < len(f) else torch.empty_like(f)
        for a, ts in terms:
            (c, sf, sg), more = ts[0], ts[1:]
            torch.mul(f[sf], g[sg], out=h[a])
            if c != 1:
                h[a].mul_(c)
            for c, sf, sg in more:
                h[a].addcmul_(f[sf], g[sg], value=c)
        ctx.save_for_backward(f, g)
        ctx.terms = terms
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh):
        f, g = ctx.saved_tensors
        df, dg = torch.zeros_like(f), torch.zeros_like(g)
        for a, ts in ctx.terms:
            for c, sf, sg in ts:
                df[sf].addcmul_(dh[a], g[sg], value=c)
                dg[sg].addcmul_(dh[a], f[sf], value=c)
        return df, dg, None
