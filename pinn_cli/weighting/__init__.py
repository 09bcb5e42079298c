"""Weighting schemes: they take and return dicts of pointwise residuals keyed by loss term."""
from pinn_cli.weighting.base import Weighting
from pinn_cli.weighting.causal import Causal
from pinn_cli.weighting.combined import Combined
from pinn_cli.weighting.gradnorm import GradNorm
from pinn_cli.weighting.none import NoWeighting
from pinn_cli.weighting.rba import RBA
from pinn_cli.weighting.sa import SelfAdaptive

__all__ = ["Weighting", "NoWeighting", "RBA", "SelfAdaptive", "GradNorm", "Causal", "Combined"]
