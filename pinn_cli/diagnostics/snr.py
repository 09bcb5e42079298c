"""Batch-gradient signal-to-noise ratio.

The N collocation points are split into B fixed batches of n = N / B consecutive points (the
Latin hypercube points come in random order, so consecutive blocks are random batches). The loss
of batch b is its re-weighted residual term plus the full initial/boundary terms,

    L_b = w_res mean_{i in b} (lambda_i r_i)^2 + sum_{k != res} w_k L_k,

and g_b = dL_b / dW for every weight matrix W (biases excluded). Over the batches, with the
elementwise mean mu and population standard deviation sigma,

    SNR   = ||mu|| / ||sigma||           (all weight matrices concatenated; per layer: ||mu_l|| / ||sigma_l||)
    phi   = ||mu|| / ||s||,  s = sqrt(mean_b g_b^2),   so  ||s||^2 = ||mu||^2 + ||sigma||^2
    SNR   = phi / sqrt(1 - phi^2).

Fast path. With derivative streams every weight matrix is used in one matmul Z = H W^T over the
rows (streams x points), so the full-loss gradient is dL/dW = sum_rows dL/dZ_row^T H_row. Summing
the rows of batch b alone gives C_b, batch b's share; the rest of dL/dW (the initial/boundary
terms, whose rows are outside the residual forward) is common to all batches. Hence

    g_b = (N / n) C_b + (dL/dW - sum_b C_b),

every batch gradient from the training step's own backward pass: the linear maps of a capture
(:mod:`pinn_cli.fields.capture`) form the C_b in place of dL/dW (``batch_shares``), at the
cost of the weight gradient itself.
Only the elementwise mean and variance over the batches are kept
(:class:`pinn_cli.diagnostics.moments.BatchMoments`): each chunk's shares are merged into the
moments of the C_b as the chunk's backward ends, and var_b(g) = (N / n)^2 var_b(C), mean_b(g) =
dL/dW, so what the capture holds is bounded by the chunk, not B P. It is measured at the
parameters the step starts from (the paper measures after the step: one Adam step apart). The
naive path, one backward per batch (:meth:`pinn_cli.training.loss_engine.LossEngine.batch_gradients`,
every gradient kept), is kept as the reference; the same loop merging each gradient into the
moments (``LossEngine.batch_moments``) is the fallback for models without streams.
"""
from __future__ import annotations

import torch

from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.errors import ConfigError


def snr_stats(moments) -> dict[str, torch.Tensor]:
    """Statistics of batch gradients.

    Args:
        moments: their :class:`BatchMoments`, or one (B, *shape_l) tensor per weight matrix: the
            B batch gradients.

    Returns:
        ``global`` (), ``per_layer`` (L,), ``order`` () and ``order_per_layer`` (L,), on the
        device, float64.
    """
    moments = BatchMoments.of(moments)
    mu2 = torch.stack([m.square().sum() for m in moments.mean])                    # (L,)
    var = torch.stack([v.sum() for v in moments.var])                              # (L,) ||sigma_l||^2
    snr_l = mu2.sqrt() / var.sqrt()
    order_l = mu2.sqrt() / (mu2 + var).sqrt()
    return {"global": mu2.sum().sqrt() / var.sum().sqrt(), "per_layer": snr_l,
            "order": mu2.sum().sqrt() / (mu2.sum() + var.sum()).sqrt(), "order_per_layer": order_l}


def auto_batches(n: int) -> int:
    """The number of equal batches whose size is closest to 256 points (at least 2 batches)."""
    divisors = [b for b in range(2, n + 1) if n % b == 0]
    if not divisors:
        raise ConfigError("diagnostics.snr.batches", "auto", f"pde.n_collocation={n} with a divisor >= 2")
    return min(divisors, key=lambda b: abs(n / b - 256))


def batch_count(n_points: int, batches: int | str) -> int:
    """B for N residual points: ``"auto"`` (:func:`auto_batches`) or a count that divides N."""
    if batches == "auto":
        batches = auto_batches(n_points)
    check_batches(n_points, batches)
    return batches


def check_batches(n_points: int, batches: int) -> int:
    """Points per batch; B must divide N so that the batches are equal."""
    if batches < 2 or n_points % batches:
        raise ConfigError("diagnostics.snr.batches", batches,
                          f"an integer >= 2 that divides pde.n_collocation={n_points}")
    return n_points // batches
