"""Networks: the MLP, the Fourier MLP, the modified MLP and PirateNet (:mod:`pinn_cli.fields` turns
one into a field with derivatives)."""
from pinn_cli.models.mlp import MLP

__all__ = ["MLP"]
