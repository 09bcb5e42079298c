"""Layer entropy and saturation of tanh activations (the paper's adaptive binning).

For a hidden layer with activations T (N samples, w neurons), neuron j spans the range
R_j = max T_j - min T_j. The average bin width is sum_j R_j / (w * bins), so neuron j gets
int(R_j / width) + 1 equally spaced edges, i.e. max(1, int(R_j / width)) bins. Each sample's
activation pattern is its row of bin indices; over the distinct patterns with frequencies p,

    H(T) = -sum p log2 p    bits  (for a deterministic network this equals I(X; T)).

Saturation is the share of samples in a neuron's lowest or highest bin, averaged over neurons.

Bounded memory (:func:`hidden_entropy`, what the entropy probe uses): the activations of all N
points of all layers at once take N x width x depth floats (0.3 GB on the paper network at
102,400 points, 3 GB at 10^6), and each layer's int64 bin indices and their row sort more.
Instead the points go through the network in chunks, twice: first for each neuron's range, then for the bin indices,
of which each chunk keeps only the saturation count and one 62-bit key per sample: two
independent hashes sum_j idx_j a_j mod p (p = 2^31 - 1, fixed random multipliers a) packed in
one int64. Two distinct patterns share a key with probability p^-2 ~ 2^-62 (at 10^6 points,
~1e-7 that any pair of the 5e11 does), so the pattern frequencies, and H(T), are those of the
whole-tensor computation; only the order in which the -p log2 p terms are summed differs
(float round-off, ~1e-6 bits in float32). It costs one more forward pass of the points.
"""
from __future__ import annotations

import torch


def bin_counts(lo: torch.Tensor, hi: torch.Tensor, bins: int = 30) -> torch.Tensor:
    """Each neuron's bin count (w,) long, from its activation range [lo, hi] (w,) each."""
    rng = hi - lo
    width = rng.sum() / (len(rng) * bins)
    return (rng / width).floor().long().clamp_min(1) if width > 0 else torch.ones_like(lo).long()


def _index(t: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, n_bins: torch.Tensor) -> torch.Tensor:
    """Bin index (N, w) long of activations t (N, w) in the bins of [lo, hi]."""
    scaled = (t - lo) / (hi - lo).clamp_min(torch.finfo(t.dtype).tiny) * n_bins      # (N, w)
    return torch.minimum(scaled.long(), n_bins - 1).clamp_min(0)


def bin_indices(t: torch.Tensor, bins: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin index of every activation, (N, w) long, and each neuron's bin count (w,)."""
    lo, hi = t.min(0).values, t.max(0).values                                     # (w,)
    n_bins = bin_counts(lo, hi, bins)
    return _index(t, lo, hi, n_bins), n_bins


def layer_entropy(t: torch.Tensor, bins: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (H(T) in bits, saturation), both () tensors, for activations t (N, w)."""
    idx, n_bins = bin_indices(t, bins)
    _, counts = torch.unique(idx, dim=0, return_counts=True)
    p = counts.to(t.dtype) / t.shape[0]
    entropy = -(p * p.log2()).sum()
    edge = (idx == 0) | (idx == n_bins - 1)                                       # (N, w)
    return entropy, edge.to(t.dtype).mean()


_PRIME = 2**31 - 1
_KEYS = 2                   # hashes per pattern, packed into one int64


def _multipliers(width: int, device) -> torch.Tensor:
    """(width, 2) fixed random multipliers in [1, p - 1], the same in every call and run."""
    g = torch.Generator().manual_seed(width)
    return torch.randint(1, _PRIME, (width, _KEYS), generator=g, dtype=torch.long).to(device)


def pattern_keys(idx: torch.Tensor, mult: torch.Tensor) -> torch.Tensor:
    """(N,) int64 key of every row of bin indices idx (N, w): two hashes mod p, packed.
    Exact integer arithmetic: idx_j < w * bins and a_j < 2^31, so the sums stay below 2^63
    for any w * (w * bins) < 2^32."""
    # elementwise products, not a matmul: CUDA has no integer matmul
    return (idx * mult[:, 0]).sum(1) % _PRIME * 2**31 + (idx * mult[:, 1]).sum(1) % _PRIME


def hidden_entropy(hidden, x: torch.Tensor, bins: int = 30,
                   chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """H(T) in bits and saturation of every hidden layer, (L,) each, on the points x (N, d),
    passed through ``hidden`` (x -> [activations (n, w_l) per layer]) ``chunk`` points at a
    time (module docstring): the same values as :func:`layer_entropy` on the whole tensors,
    in memory bounded by the chunk (plus 8 bytes per point and layer)."""
    pieces = x.split(chunk or len(x))
    lo = hi = hs = None
    for xc in pieces:                                       # pass 1: each neuron's range
        hs = hidden(xc)
        lo_c, hi_c = [h.min(0).values for h in hs], [h.max(0).values for h in hs]
        lo = lo_c if lo is None else [torch.minimum(a, b) for a, b in zip(lo, lo_c)]
        hi = hi_c if hi is None else [torch.maximum(a, b) for a, b in zip(hi, hi_c)]
    if not lo:
        return torch.zeros(0), torch.zeros(0)
    n_bins = [bin_counts(a, b, bins) for a, b in zip(lo, hi)]
    mult = [_multipliers(len(a), x.device) for a in lo]
    keys = [[] for _ in lo]
    edges = [torch.zeros((), dtype=torch.long, device=x.device) for _ in lo]
    for xc in pieces:                                       # pass 2: keys and saturation counts
        for l, h in enumerate(hs if len(pieces) == 1 else hidden(xc)):
            idx = _index(h, lo[l], hi[l], n_bins[l])                               # (n, w)
            edges[l] += ((idx == 0) | (idx == n_bins[l] - 1)).sum()
            keys[l].append(pattern_keys(idx, mult[l]))
    dtype, n = lo[0].dtype, len(x)
    entropy, saturation = [], []
    for l in range(len(lo)):
        _, counts = torch.unique(torch.cat(keys[l]), return_counts=True)
        keys[l] = None
        p = counts.to(dtype) / n
        entropy.append(-(p * p.log2()).sum())
        saturation.append(edges[l].to(dtype) / (n * len(lo[l])))
    return torch.stack(entropy), torch.stack(saturation)
