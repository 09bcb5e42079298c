"""The ``strategy`` config group: a run as stages (time-marching windows, coefficient continuation)."""
from pinn_cli.strategies.base import Stage, Strategy
from pinn_cli.strategies.continuation import Continuation
from pinn_cli.strategies.marching import TimeMarching

__all__ = ["Stage", "Strategy", "TimeMarching", "Continuation"]
