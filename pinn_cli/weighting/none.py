"""No re-weighting: every point counts the same, L = sum_k w_k mean(e_k^2)."""
from __future__ import annotations

from pinn_cli.weighting.base import Weighting


class NoWeighting(Weighting):
    """The identity scheme (``weighting=none``)."""
