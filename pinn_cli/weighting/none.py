"""No re-weighting: every point counts the same, loss = sum_k w_k mean(e_k^2)."""
from __future__ import annotations

import torch


class NoWeighting:
    """The identity scheme; the interface every weighting implements."""

    def setup(self, n_points: dict[str, int], device, dtype) -> None:
        """Allocate per-point state for the named terms (sizes fixed for the run)."""

    def update(self, residuals: dict[str, torch.Tensor]) -> None:
        """Advance the scheme's state with this iteration's (detached) residuals."""

    def apply(self, residuals: dict[str, torch.Tensor], rows=None) -> dict[str, torch.Tensor]:
        """Pointwise residuals -> pointwise residuals that enter the squared loss.

        ``rows`` (an index or slice) says which points the re-weighted term holds, when it is
        a subset (one SNR batch); None means all of them.
        """
        return residuals

    def __call__(self, residuals: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One training iteration: update, then apply."""
        self.update(residuals)
        return self.apply(residuals)

    def weights(self) -> dict[str, torch.Tensor]:
        """Per-point weights by term (empty when there are none)."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
