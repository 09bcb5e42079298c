"""``strategy=continuation``: a coefficient of the PDE moved towards its own value in stages.

``values`` are the coefficient ``key`` before the problem's own, in order; stage k trains with
values[k] for steps[k] steps, the last stage with the problem's own value (``pde.<key>``) for the
rest of the run: e.g. the cavity through Re 100 and 400 to its own 1000. The reference, and so
every error, is the problem's own. A warm start on an easier problem, as PirateNet's cavity
training goes through Re 100, 400, 1000, 1600 to 3200.
"""
from __future__ import annotations

from pinn_cli.errors import ConfigError
from pinn_cli.schema import Count, check_value, describe, signature_of
from pinn_cli.strategies.base import Stage, Strategy, split


class Continuation(Strategy):
    """Args:
        key: one of the PDE's ``coefficients`` (its constructor argument and attribute), e.g.
            ``re``.
        values: its values before the problem's own, in order.
        steps: steps of each of those stages (null: the run in len(values) + 1 equal parts).
    """

    def __init__(self, key: str = "re", values: list[float] | None = None,
                 steps: list[Count] | None = None):
        self.key, self.values, self.steps = key, [float(v) for v in values or []], list(steps or [])
        self.own: float | None = None

    def check(self, problem, pde):
        own = tuple(pde.coefficients)
        if self.key not in own:
            raise ConfigError("strategy.key", self.key, f"a coefficient of {type(pde).__name__} "
                              f"({', '.join(own) or 'it declares none'})")
        value = getattr(pde, self.key)
        if not self.values:
            raise ConfigError("strategy.values", self.values, "one value or more, before the "
                              f"problem's own {self.key}={value:g}")
        if self.steps and len(self.steps) != len(self.values):
            raise ConfigError("strategy.steps", self.steps, f"{len(self.values)} step counts, one "
                              "per value (the problem's own value takes the rest)")
        annotation = signature_of(type(pde))[1].get(self.key, (None,))[0]
        for i, v in enumerate(self.values):       # each value as pde.<key> itself is checked
            if annotation is not None:
                try:
                    check_value(f"pde.{self.key}", v, annotation)
                except ConfigError as e:
                    raise ConfigError(f"strategy.values[{i}]", v, f"a value that pde.{self.key} "
                                      f"accepts ({describe(annotation)})") from e
        self.own = float(value)

    def stages(self, iterations):
        values = [*self.values, self.own]
        starts = split(iterations, self.steps or None, len(values))
        return [Stage(s, f"{self.key}={v:g}", coefficient=(self.key, v)) for s, v in zip(starts, values)]
