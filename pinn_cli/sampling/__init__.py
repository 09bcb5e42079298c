"""The ``sampling`` config group: fixed points, uniform redraws, residual-based adaptive sampling."""
from pinn_cli.sampling.adaptive import RAD, RARD
from pinn_cli.sampling.base import Fixed, Sampler
from pinn_cli.sampling.uniform import Uniform

__all__ = ["Sampler", "Fixed", "Uniform", "RAD", "RARD"]
