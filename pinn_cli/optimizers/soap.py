"""SOAP: Adam run in the eigenbasis of Shampoo's preconditioner (Vyas et al., 2024), from the
``pytorch-optimizer`` package.

For a weight matrix W (m, n) with gradient G, and b = ``shampoo_beta`` (beta2 when null):

    L <- b L + (1 - b) G G'      (m, m)        R <- b R + (1 - b) G' G      (n, n)
    Q_L, Q_R: eigenvectors of L, R; exactly at the first step, then every
              ``precondition_frequency`` steps by one power iteration and a QR
    G~ = Q_L' G Q_R;  M <- beta1 M + (1 - beta1) G  (M projected when used);
    V <- beta2 V + (1 - beta2) G~^2
    W <- W - lr_k Q_L [(Q_L' M Q_R) / (sqrt(V) + eps)] Q_R'  - lr_k wd W

with Adam's bias corrections in lr_k. The first step only gathers L and R. Vectors (biases) get
plain Adam. For the PINN use, see Wang et al., "Gradient alignment in physics-informed neural
networks: a second-order optimization perspective" (2025).

The package is imported when the option is built; without it the option is refused with one line
naming the pip command. Everything SOAP keeps (L, R, Q, M, V, the step count) is in
``optimizer.state_dict()``: a checkpoint resumes it bit for bit.
"""
from __future__ import annotations

from pinn_cli.schema import Count, NonNeg, Positive, Zero2One
from pinn_cli.errors import ConfigError
from pinn_cli.optimizers.schedules import Scheduled

PIP = "pip install 'pytorch-optimizer>=3.5,<5'"


def _soap_class():
    try:
        from pytorch_optimizer import SOAP
    except ImportError:
        raise ConfigError("optimizer", "soap", f"its package installed: {PIP}") from None
    return SOAP


class SOAP(Scheduled):
    """Builds pytorch-optimizer's ``SOAP`` and its schedule (constant by default).

    Args:
        lr: learning rate, > 0.
        betas: SOAP's Adam moment decays (Adam's 0.9, 0.999: on the default Helmholtz they beat
            the SOAP paper's 0.95, 0.95, scripts/bench_optimizers.py).
        shampoo_beta: decay of L and R; null: betas[1].
        eps: Adam's epsilon.
        weight_decay: decoupled weight decay (0: none, as with Adam here).
        precondition_frequency: steps between eigenbasis updates, >= 1.
        **schedule: the schedule of lr (:class:`pinn_cli.optimizers.schedules.Scheduled`).
    """

    def __init__(self, lr: Positive = 3e-3, betas: tuple[Zero2One, Zero2One] = (0.9, 0.999),
                 shampoo_beta: Zero2One | None = None, eps: NonNeg = 1e-8,
                 weight_decay: NonNeg = 0.0, precondition_frequency: Count = 10, **schedule):
        schedule.setdefault("schedule", "constant")
        super().__init__(**schedule)
        self.cls = _soap_class()
        self.options = {"lr": float(lr), "betas": tuple(float(b) for b in betas),
                        "shampoo_beta": None if shampoo_beta is None else float(shampoo_beta),
                        "eps": float(eps), "weight_decay": float(weight_decay),
                        "precondition_frequency": int(precondition_frequency)}
        self.check_floor(self.options["lr"])

    def build(self, params):
        """-> (optimizer, scheduler); ``scheduler.step()`` once per iteration."""
        opt = self.cls(params, **self.options)
        return opt, self.make_schedule(opt)
