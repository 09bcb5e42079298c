"""Adam's own signal-to-noise ratio, from its bias-corrected moments.

With m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t) over all parameters,

    SNR_adam  = ||m_hat|| / ||sqrt(v_hat) + eps||
    mean step = mean(|m_hat / (sqrt(v_hat) + eps)|)     (the effective per-parameter step, / lr)

"Equilibrium in the learning rates" is these effective steps settling.
"""
from __future__ import annotations

import torch


def adam_snr(moments: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """``moments``: [(m_hat, sqrt(v_hat) + eps)] per parameter
    (:meth:`pinn_cli.optimizers.view.OptimizerView.adam_moments`) -> ``{"snr": (), "mean_step":
    ()}`` on the device; NaN before the first step."""
    if not moments:
        nan = torch.tensor(float("nan"))
        return {"snr": nan, "mean_step": nan}
    num = sum(m.square().sum() for m, _ in moments)
    den = sum(d.square().sum() for _, d in moments)
    steps = sum((m / d).abs().sum() for m, d in moments)
    count = sum(m.numel() for m, _ in moments)
    return {"snr": (num / den).sqrt(), "mean_step": steps / count}
