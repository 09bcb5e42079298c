"""Per-element mean and variance of the SNR batch gradients, without keeping the B gradients.

Every consumer of the batch gradients g_b, b = 1..B (one (out, in) tensor per weight matrix l;
the SNR, the gradient noise scale, the GSNR) needs only, per element,

    mu_l  = (1/B) sum_b g_b                       the mean,
    M2_l  = sum_b (g_b - mu_l)^2                  the sum of squared deviations,
    var_l = M2_l / B                              the population variance.

Holding the B gradients costs B P floats (P: the weights): at N = 10^6 points in batches of
~256 and the 6 x 128 paper network, 3,906 x 82k floats = 1.3 GB. :class:`BatchMoments` holds
2 P floats (float64) instead, whatever B.

Merging (Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for computing sample
variances", 1979). Two sets of batches a and b with counts n_a, n_b, means mu_a, mu_b and M2_a,
M2_b give, with delta = mu_b - mu_a and n = n_a + n_b,

    mu = mu_a + delta n_b / n,      M2 = M2_a + M2_b + delta^2 n_a n_b / n.

Each part is formed by two passes (mean first, then the squared deviations from it), never as
E[x^2] - E[x]^2: the SNR ||mu|| / ||sigma|| reaches 10^6 at initialisation, i.e. var / mu^2 ~
1e-12, far below float32's resolution of E[x^2], which would leave nothing (or a negative
number) of the variance.

The fast path (:mod:`pinn_cli.diagnostics.snr`) has g_b = a C_b + D with a = N / n = B and D =
dL/dW - sum_b C_b common to every batch, so per element

    var_b(g) = a^2 var_b(C),        mean_b(g) = a mean_b(C) + D = dL/dW;

it merges each chunk's shares C_b (:meth:`BatchMoments.add`, the chunk's B_c shares at a time)
and finishes with dL/dW once the condition terms' backward has run
(:meth:`BatchMoments.of_shares`). Its memory is bounded by the chunk, not by N.
"""
from __future__ import annotations

import torch


class BatchMoments:
    """Count, elementwise mean and sum of squared deviations of batch gradients, float64.

    Attributes:
        count: B, the batches taken in so far.
        mean: one (out, in) tensor per weight matrix, mu_l.
        m2: one (out, in) tensor per weight matrix, M2_l = sum_b (g_b - mu_l)^2.
    """

    def __init__(self, count: int = 0, mean: list | None = None, m2: list | None = None):
        self.count, self.mean, self.m2 = count, mean, m2

    @property
    def var(self) -> list[torch.Tensor]:
        """The population variance per element, M2_l / B."""
        return [m / self.count for m in self.m2]

    @classmethod
    def from_batches(cls, grads) -> BatchMoments:
        """From every batch gradient at once: one (B, *shape_l) tensor per weight matrix (two
        passes, in float64)."""
        grads = [g.detach().double() for g in grads]
        mean = [g.mean(0) for g in grads]
        m2 = [(g - m).square().sum(0) for g, m in zip(grads, mean)]
        return cls(len(grads[0]), mean, m2)

    @classmethod
    def of(cls, x) -> BatchMoments:
        """``x`` itself if it is already moments, else :meth:`from_batches` of it."""
        return x if isinstance(x, BatchMoments) else cls.from_batches(x)

    def merge(self, other: BatchMoments) -> BatchMoments:
        """Take in ``other``'s batches (Chan et al.'s pairwise formula, module docstring); in
        place, returns self."""
        if other.count == 0:
            return self
        if self.count == 0:
            self.count, self.mean, self.m2 = other.count, list(other.mean), list(other.m2)
            return self
        na, nb = self.count, other.count
        n = na + nb
        for l, (ma, mb) in enumerate(zip(self.mean, other.mean)):
            delta = mb - ma
            self.m2[l] = self.m2[l] + other.m2[l] + delta.square() * (na * nb / n)
            self.mean[l] = ma + delta * (nb / n)
        self.count = n
        return self

    def add(self, grads) -> BatchMoments:
        """Take in some more batch gradients, one (B_c, *shape_l) tensor per weight matrix; in
        place, returns self."""
        return self.merge(BatchMoments.from_batches(grads))

    @classmethod
    def of_shares(cls, shares: BatchMoments, weights: list[torch.Tensor], batches: int) -> BatchMoments:
        """The moments of g_b = a C_b + (dL/dW - sum_b C_b), a = N / n = B, from those of the
        shares C_b: mean dL/dW, M2 a^2 M2(C).

        Args:
            shares: the moments of the B shares C_b (every chunk's merged).
            weights: the weight matrices, whose ``.grad`` holds the full-loss gradient dL/dW.
            batches: B.
        """
        if shares.count != batches:
            raise ValueError(f"{shares.count} batch shares for {batches} batches")
        mean = [w.grad.detach().double().clone() for w in weights]
        return cls(batches, mean, [m * float(batches) ** 2 for m in shares.m2])
