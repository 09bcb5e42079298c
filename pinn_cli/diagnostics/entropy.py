"""Layer entropy and saturation of tanh activations (the paper's adaptive binning).

For a hidden layer with activations T (N samples, w neurons), neuron j spans the range
R_j = max T_j - min T_j. The average bin width is sum_j R_j / (w * bins), so neuron j gets
int(R_j / width) + 1 equally spaced edges, i.e. max(1, int(R_j / width)) bins. Each sample's
activation pattern is its row of bin indices; over the distinct patterns with frequencies p,

    H(T) = -sum p log2 p    bits  (for a deterministic network this equals I(X; T)).

Saturation is the share of samples in a neuron's lowest or highest bin, averaged over neurons.
"""
from __future__ import annotations

import torch


def bin_indices(t: torch.Tensor, bins: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin index of every activation, (N, w) long, and each neuron's bin count (w,)."""
    lo, hi = t.min(0).values, t.max(0).values                                     # (w,)
    rng = hi - lo
    width = rng.sum() / (t.shape[1] * bins)
    n_bins = (rng / width).floor().long().clamp_min(1) if width > 0 else torch.ones_like(lo).long()
    scaled = (t - lo) / rng.clamp_min(torch.finfo(t.dtype).tiny) * n_bins          # (N, w)
    return torch.minimum(scaled.long(), n_bins - 1).clamp_min(0), n_bins


def layer_entropy(t: torch.Tensor, bins: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (H(T) in bits, saturation), both () tensors, for activations t (N, w)."""
    idx, n_bins = bin_indices(t, bins)
    _, counts = torch.unique(idx, dim=0, return_counts=True)
    p = counts.to(t.dtype) / t.shape[0]
    entropy = -(p * p.log2()).sum()
    edge = (idx == 0) | (idx == n_bins - 1)                                       # (N, w)
    return entropy, edge.to(t.dtype).mean()
