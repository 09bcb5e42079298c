"""Adam's own signal-to-noise ratio, from its bias-corrected moments.

With m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t) over all parameters,

    SNR_adam  = ||m_hat|| / ||sqrt(v_hat) + eps||
    mean step = mean(|m_hat / (sqrt(v_hat) + eps)|)     (the effective per-parameter step, / lr)

"Equilibrium in the learning rates" is these effective steps settling.
"""
from __future__ import annotations

import torch


def adam_snr(optimizer: torch.optim.Adam) -> dict[str, torch.Tensor]:
    """-> ``{"snr": (), "mean_step": ()}`` on the device; NaN before the first step."""
    num, den, steps, count = 0.0, 0.0, 0.0, 0
    for group in optimizer.param_groups:
        b1, b2 = group["betas"]
        for p in group["params"]:
            st = optimizer.state.get(p)
            if not st:
                continue
            t = float(st["step"])
            m_hat = st["exp_avg"] / (1 - b1**t)
            denom = (st["exp_avg_sq"] / (1 - b2**t)).sqrt() + group["eps"]
            num = num + m_hat.square().sum()
            den = den + denom.square().sum()
            steps = steps + (m_hat / denom).abs().sum()
            count += p.numel()
    if count == 0:
        nan = torch.tensor(float("nan"))
        return {"snr": nan, "mean_step": nan}
    return {"snr": (num / den).sqrt(), "mean_step": steps / count}


def has_adam_state(optimizer) -> bool:
    """Whether ``optimizer`` keeps Adam's moments (Adam, AdamW): the Adam SNR applies."""
    return isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW))
