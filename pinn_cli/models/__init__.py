"""Networks and the derivative engines that turn them into fields."""
from pinn_cli.models.fields import Derivatives, Field
from pinn_cli.models.mlp import MLP

__all__ = ["MLP", "Field", "Derivatives"]
