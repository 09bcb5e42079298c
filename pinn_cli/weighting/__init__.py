"""Weighting schemes: they take and return dicts of pointwise residuals keyed by loss term."""
from pinn_cli.weighting.base import Weighting
from pinn_cli.weighting.none import NoWeighting
from pinn_cli.weighting.rba import RBA

__all__ = ["Weighting", "NoWeighting", "RBA"]
