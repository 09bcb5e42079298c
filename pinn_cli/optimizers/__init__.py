"""Optimizers, each a builder of (torch optimizer, schedule); the schedules are a choice of each."""
from pinn_cli.optimizers.adam import Adam
from pinn_cli.optimizers.lbfgs import LBFGS
from pinn_cli.optimizers.quasi_newton import DenseQuasiNewton, QuasiNewton
from pinn_cli.optimizers.soap import SOAP
from pinn_cli.optimizers.staged import AdamLBFGS, AdamQuasiNewton, AdamThen

__all__ = ["Adam", "LBFGS", "SOAP", "QuasiNewton", "DenseQuasiNewton", "AdamLBFGS",
           "AdamQuasiNewton", "AdamThen"]
