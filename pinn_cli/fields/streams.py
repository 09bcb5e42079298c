"""The arithmetic of derivative streams: the elementwise steps of a jet, each one autograd Function
with a hand-written backward.

A jet's streams are stacked in one tensor (S, ...): stream 0 the value, stream s the partial
derivative alpha_s (:class:`pinn_cli.fields.multiindex.IndexSet`). Written with ordinary tensor
ops, every slice of the stacked tensor would get a backward that allocates and zero-fills a full
(S, ...) gradient, and every op a fresh output; on a CPU, such memory traffic costs several
times the arithmetic. Hence two Functions that read and write slices in place:

:class:`ChainRule`, h = sigma(z + b) by Faa di Bruno (``IndexSet.chain_terms``), with
s_m = sigma^(m)(z_0 + b) and, for each stream alpha, its terms grouped by their number of blocks m
into Q_{alpha,m} = sum_terms c prod_{beta in blocks} z_beta:

    h_0 = s_0,     h_alpha = s_1 z_alpha + sum_{m >= 2} s_m Q_{alpha,m}

and, from the output gradients g, the input gradients

    dz_beta = g_beta s_1 + sum_{alpha, m} (g_alpha s_m) dQ_{alpha,m}/dz_beta            (beta >= 1)
    dz_0    = g_0 s_1 + s_2 sum_alpha g_alpha z_alpha
              + sum_{m >= 2} s_{m+1} sum_alpha g_alpha Q_{alpha,m}
    db      = dz_0 summed to b's shape.

:class:`ChainProgram` turns the terms into a schedule of whole-slice ops (products of streams
built once, in waves; updates batched as ``torch._foreach`` ops); the backward recomputes the
products from z rather than keeping them, which measured faster than reading them back (less
memory traffic). At order 2 this is the order-2 chain rule h_ij = s_1 z_ij + s_2 z_i z_j.

:class:`Product`, h = f g by Leibniz (``IndexSet.product_terms``, terms (c, sf, sg)):

    h_alpha = sum c f_sf g_sg,     df_sf += c g_sg dh_alpha,     dg_sg += c f_sf dh_alpha.
"""
from __future__ import annotations

import functools

import torch


class ChainProgram:
    """Faa di Bruno's terms (``IndexSet.chain_terms``) as a schedule of tensor ops on the streams.

    The tensors of a call are numbered: 0..S-1 the streams z_s, then every product P_key of
    streams the terms need (``key`` a sorted tuple of >= 2 stream numbers, built as P_key[:-1]
    z_key[-1], one wave per length), then the sums Q_{alpha,m} = sum c P_key of the streams with
    several terms of m blocks. Streams of z known to be zero (``zeros``) take no bulk work: their
    h starts at 0, their dz is 0 (z_beta is zero whatever the parameters, so the gradient on it
    meets only zeros on its way back).

    Attributes:
        k: the largest number of blocks m (the forward needs s_1..s_{k+1}).
        live: runs (start, stop) of the streams s >= 1 not in ``zeros``; ``dead``: the others.
        waves: per product length, (lefts, rights): tensor numbers to multiply, in order.
        sums: (((c, tensor), ...), ...): each Q as a combination of products.
        groups: (alpha, m, tensor, c): h_alpha += c s_m T[tensor].
        updates: waves of (betas, groups, tensors, coefficients), each beta once per wave:
            dz_beta += c (g_alpha s_m) T[tensor], the terms' derivatives by each block beta.
    """

    def __init__(self, terms: tuple, zeros: frozenset, n: int):
        self.k = max((m for _, ts in terms for _, m, _ in ts), default=1)
        alive = [s for s in range(1, n) if s not in zeros]
        self.live = [(a, b + 1) for a, b in _runs(alive)]
        self.dead = [s for s in range(1, n) if s in zeros]
        ref = {(s,): s for s in range(n)}
        by_length: dict = {}

        def need(key):
            if key not in ref:
                need(key[:-1])
                by_length.setdefault(len(key), []).append(key)
                ref[key] = None                                   # numbered below
        raw = []
        for a, ts in terms:
            for m in sorted({m for _, m, _ in ts if m > 1}):
                group = [(c, blocks) for c, mm, blocks in ts if mm == m]
                upd: dict = {}
                for c, blocks in group:
                    need(blocks)
                    for p, beta in enumerate(blocks):
                        others = blocks[:p] + blocks[p + 1:]
                        need(others)
                        upd[(beta, others)] = upd.get((beta, others), 0) + c
                raw.append((a, m, group, upd))
        self.waves, count = [], n
        for length in sorted(by_length):
            keys = by_length[length]
            for key in keys:
                ref[key], count = count, count + 1
            self.waves.append(([ref[k[:-1]] for k in keys], [k[-1] for k in keys]))
        self.sums, self.groups, pending = [], [], {}
        for a, m, group, upd in raw:
            if len(group) > 1:
                self.sums.append(tuple((c, ref[b]) for c, b in group))
                self.groups.append((a, m, count, 1))
                count += 1
            else:
                self.groups.append((a, m, ref[group[0][1]], group[0][0]))
            for (beta, key), c in upd.items():
                pending.setdefault(beta, []).append((len(self.groups) - 1, ref[key], c))
        self.updates = []
        while any(pending.values()):                              # each beta once per wave
            wave = [(beta, *todo.pop()) for beta, todo in pending.items() if todo]
            self.updates.append(tuple(map(tuple, zip(*wave))))


def _runs(values: list[int]):
    """Maximal runs of consecutive integers: [1, 2, 5] -> (1, 2), (5, 5)."""
    start = prev = None
    for v in values:
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            yield start, prev
            start = prev = v
    if start is not None:
        yield start, prev


def _products(prog, t: list) -> list:
    """The products and sums of the program, appended to the streams' list ``t``."""
    for lefts, rights in prog.waves:
        t += torch._foreach_mul([t[i] for i in lefts], [t[i] for i in rights])
    for combo in prog.sums:
        (c, i), more = combo[0], combo[1:]
        q = torch.mul(t[i], c)
        for c2, i2 in more:
            q.add_(t[i2], alpha=c2)
        t.append(q)
    return t


@functools.lru_cache(maxsize=None)
def chain_program(terms: tuple, zeros: frozenset, n: int) -> ChainProgram:
    return ChainProgram(terms, zeros, n)


class ChainRule(torch.autograd.Function):
    """(z (S, ...), b (broadcastable to z[0]) or None) -> h (S, ...), as in the module docstring.

    ``derivatives(z0, k, out)`` gives [s_0 .. s_k] (:mod:`pinn_cli.fields.univariate`), s_0
    written into ``out``; ``terms`` is ``IndexSet.chain_terms(zeros)``, ``zeros`` the streams
    of z known to be zero. The forward keeps z and s_1..s_{k+1}."""

    @staticmethod
    def forward(ctx, z, b, derivatives, terms: tuple, zeros: frozenset):
        prog = chain_program(terms, zeros, len(z))
        h = torch.empty_like(z)
        z0 = torch.add(z[0], b, out=h[0]) if b is not None else h[0].copy_(z[0])
        s = derivatives(z0, prog.k + 1, out=h[0])        # s[0] is h[0]: z0 is overwritten
        if any(x is s[0] for x in s[1:]):                # exp, sin: s_m = s_0; h[0] can't be saved
            s0 = s[0].clone()
            s = [s[0]] + [s0 if x is s[0] else x for x in s[1:]]
        for a, e in prog.live:
            torch.mul(z[a:e], s[1], out=h[a:e])
        hs = h.unbind(0)
        for beta in prog.dead:
            hs[beta].zero_()
        t = _products(prog, list(z.unbind(0)))
        for m in range(2, prog.k + 1):
            todo = [(a, i, c) for a, mm, i, c in prog.groups if mm == m]
            if todo and s[m] is not None:
                a, i, c = zip(*todo)
                torch._foreach_addcmul_([hs[x] for x in a], [t[x] for x in i], [s[m]] * len(a),
                                        list(c))
        keep = [x for x in s[1:] if x is not None]
        ctx.save_for_backward(z, *keep)                  # the backward recomputes the products
        ctx.prog, ctx.b_shape = prog, None if b is None else b.shape
        ctx.none = [x is None for x in s[1:]]
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        prog = ctx.prog
        z, *rest = ctx.saved_tensors
        it = iter(rest)
        s = [None] + [None if none else next(it) for none in ctx.none]         # s[m], m >= 1
        s.append(None)                                                          # s_{k+2}
        t = _products(prog, list(z.unbind(0)))
        gs, dz = g.unbind(0), torch.empty_like(z)
        dzs, dz0 = dz.unbind(0), dz[0]
        torch.mul(gs[0], s[1], out=dz0)
        for a, e in prog.live:                            # from h_alpha = s_1 z_alpha + ...
            torch.mul(g[a:e], s[1], out=dz[a:e])
            if s[2] is not None:
                dz0.addcmul_(torch.linalg.vecdot(g[a:e], z[a:e], dim=0), s[2])
        for beta in prog.dead:
            dzs[beta].zero_()
        acc = {}                                          # m -> sum_alpha g_alpha Q_{alpha,m}
        for a, m, i, c in prog.groups:
            if s[m + 1] is None:
                continue
            if m in acc:
                acc[m].addcmul_(gs[a], t[i], value=c)
            else:
                acc[m] = torch.mul(gs[a], t[i]).mul_(c) if c != 1 else torch.mul(gs[a], t[i])
        for m, r in acc.items():
            dz0.addcmul_(r, s[m + 1])
        active = [j for j, (_, m, _, _) in enumerate(prog.groups) if s[m] is not None]
        gm = {}                                           # group -> g_alpha s_m
        if active:
            gm = dict(zip(active, torch._foreach_mul([gs[prog.groups[j][0]] for j in active],
                                                     [s[prog.groups[j][1]] for j in active])))
        for betas, groups, tensors, coefs in prog.updates:   # dz_beta += c (g_alpha s_m) T
            keep = [q for q, j in enumerate(groups) if j in gm]
            if keep:
                torch._foreach_addcmul_([dzs[betas[q]] for q in keep], [gm[groups[q]] for q in keep],
                                        [t[tensors[q]] for q in keep], [coefs[q] for q in keep])
        db = None
        if ctx.b_shape is not None:
            db = dz0.sum_to_size(ctx.b_shape)
            db = db.clone() if db.data_ptr() == dz0.data_ptr() else db    # not a view of dz
        return dz, db, None, None, None


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
