"""Sets of partial derivatives (multi-indices) and the combinatorics of the chain and product rules.

A partial derivative of order k with respect to input coordinates is a multi-index alpha: the
sorted tuple of the k axes it differentiates along, e.g. ``(0, 1, 1)`` for d^3 / dx_0 dx_1^2; the
value itself is ``()``. A jet (:mod:`pinn_cli.fields.jet`) carries one stream per multi-index of an
:class:`IndexSet`, which is closed downward: with alpha it holds every sub-multiset of alpha, since
the rules below express the derivative alpha of a composite through those of lower order only.

Faa di Bruno (the chain rule of any order) for an elementwise h = sigma(z): over the set partitions
pi of the k positions of alpha, each block B of pi naming the sub-multi-index alpha_B,

    h_alpha = sum_pi sigma^(|pi|)(z) prod_{B in pi} z_{alpha_B}.

Partitions that give the same sub-multi-indices are the same term: e.g. alpha = xxy has 5 set
partitions and 4 distinct terms,

    h_xxy = s1 z_xxy + s2 (z_xx z_y + 2 z_xy z_x) + s3 z_x^2 z_y,     s_m = sigma^(m)(z).

Leibniz (the product rule of any order) for h = f g: over the subsets S of the positions of alpha,

    h_alpha = sum_S f_{alpha_S} g_{alpha \\ S}       (h_xx = f_xx g + 2 f_x g_x + f g_xx).

Both tables are precomputed once per index set (and per pattern of streams known to be zero, whose
terms are dropped), as tuples of (coefficient, ...) over stream numbers.
"""
from __future__ import annotations

import functools
import itertools
from collections import Counter


def set_partitions(n: int):
    """Every set partition of positions 0..n-1, each a tuple of blocks (tuples of positions)."""
    if n == 0:
        yield ()
        return
    for rest in set_partitions(n - 1):                   # place position n-1 into each block,
        for i in range(len(rest)):                       # or into a block of its own
            yield rest[:i] + (rest[i] + (n - 1,),) + rest[i + 1:]
        yield rest + ((n - 1,),)


def sub_multisets(alpha: tuple[int, ...]) -> set[tuple[int, ...]]:
    """Every sub-multiset of alpha, () and alpha included, as sorted tuples."""
    return {tuple(alpha[i] for i in sel) for r in range(len(alpha) + 1)
            for sel in itertools.combinations(range(len(alpha)), r)}


class IndexSet:
    """The streams of a jet: multi-indices closed downward, ordered by order then lexically;
    stream 0 is the value ``()``.

    Args:
        wanted: the multi-indices asked for (sorted tuples of axis numbers).
    """

    def __init__(self, wanted):
        closed = set().union(*(sub_multisets(tuple(sorted(a))) for a in wanted), {()})
        self.alphas: tuple[tuple[int, ...], ...] = tuple(sorted(closed, key=lambda a: (len(a), a)))
        self.index = {a: s for s, a in enumerate(self.alphas)}
        self.order = max(len(a) for a in self.alphas)

    def __len__(self) -> int:
        return len(self.alphas)

    def input_zeros(self) -> frozenset[int]:
        """Streams of an input coordinate that are zero: every derivative of order >= 2."""
        return frozenset(s for s, a in enumerate(self.alphas) if len(a) >= 2)

    @functools.lru_cache(maxsize=None)
    def chain_terms(self, zeros: frozenset[int]) -> tuple:
        """Faa di Bruno's terms for each stream: ``((s, ((c, m, blocks), ...)), ...)`` for every
        stream s > 0 with a term left, where ``c`` counts the set partitions with ``m`` blocks
        whose sub-multi-indices are the streams ``blocks``; terms with a block in ``zeros`` (streams
        of z known to be zero) are dropped."""
        out = []
        for s, alpha in enumerate(self.alphas[1:], 1):
            count = Counter()
            for pi in set_partitions(len(alpha)):
                blocks = tuple(sorted(self.index[tuple(alpha[p] for p in b)] for b in pi))
                if not zeros.intersection(blocks):
                    count[blocks] += 1
            if count:
                ordered = sorted(count.items(), key=lambda t: (len(t[0]), t[0]))
                out.append((s, tuple((c, len(b), b) for b, c in ordered)))
        return tuple(out)

    @functools.lru_cache(maxsize=None)
    def product_terms(self, zeros_f: frozenset[int], zeros_g: frozenset[int]) -> tuple:
        """Leibniz's terms for each stream: ``((s, ((c, sf, sg), ...)), ...)``, h_s = sum c f_sf
        g_sg over the subsets of alpha's positions, without the terms a zero stream removes."""
        out = []
        for s, alpha in enumerate(self.alphas):
            count = Counter()
            for r in range(len(alpha) + 1):
                for sel in itertools.combinations(range(len(alpha)), r):
                    rest = tuple(alpha[i] for i in range(len(alpha)) if i not in sel)
                    sf, sg = self.index[tuple(alpha[i] for i in sel)], self.index[rest]
                    if sf not in zeros_f and sg not in zeros_g:
                        count[(sf, sg)] += 1
            if count:
                out.append((s, tuple((c, sf, sg) for (sf, sg), c in sorted(count.items()))))
        return tuple(out)

    @staticmethod
    def zeros_after(terms: tuple, n: int) -> frozenset[int]:
        """The streams (of n) that a table of terms leaves zero: every s > 0 without a term."""
        return frozenset(range(1, n)) - {s for s, _ in terms}


@functools.lru_cache(maxsize=None)
def index_set(wanted: frozenset) -> IndexSet:
    """One shared :class:`IndexSet` per set of wanted multi-indices (its tables cached with it)."""
    return IndexSet(wanted)
