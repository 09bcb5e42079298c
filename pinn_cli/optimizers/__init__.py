"""Optimizers, each a builder of (torch optimizer, schedule)."""
from pinn_cli.optimizers.adam import Adam

__all__ = ["Adam"]
