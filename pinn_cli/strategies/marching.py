"""``strategy=time_marching``: the time interval trained in growing windows.

The problem's interval [T0, T1] is cut at T0 < t_1 < ... < t_n = T1 (``windows`` equal parts);
stage k trains one network on [T0, t_k], all of its points drawn anew in that window, so the
network learns the solution forward in time, each window starting from what the last one learnt,
and the initial condition stays where it is. pinn-cli's choice: **one network on a growing
interval**, not one network per window restarted from the previous window's final state: a single
network keeps every model, probe, checkpoint and the final evaluation as they are (a
per-window network would make the trained model piecewise in time), and keeping the earlier
windows in the loss keeps the network from forgetting them; the cost is points spread over a
longer interval as it grows (the point count is the same in every window).
"""
from __future__ import annotations

from pinn_cli.errors import ConfigError
from pinn_cli.schema import Count
from pinn_cli.strategies.base import Stage, Strategy, split


class TimeMarching(Strategy):
    """Args:
        windows: n, the number of windows (stages).
        steps: steps of each window but the last (null: equal parts of the run).
        time_axis: the time coordinate (null: the problem's).
        bounds: the problem's bounding box (null: the problem's).
    """

    def __init__(self, windows: Count = 4, steps: list[Count] | None = None,
                 time_axis: int | None = None, bounds: list[list[float]] | None = None):
        self.windows, self.steps = int(windows), list(steps or [])
        self.time_axis, self.bounds = time_axis, bounds

    def check(self, problem, pde):
        if self.time_axis is None:
            raise ConfigError("strategy", "time_marching", f"a problem with a time axis (this "
                              f"one's axes are {', '.join(problem.axes)})")
        if not 0 <= self.time_axis < problem.in_dim:
            raise ConfigError("strategy.time_axis", self.time_axis, f"an axis index from 0 to "
                              f"{problem.in_dim - 1} ({', '.join(problem.axes)}), or null")
        if self.steps and len(self.steps) != self.windows - 1:
            raise ConfigError("strategy.steps", self.steps, f"{self.windows - 1} step counts, one "
                              "per window but the last (or null)")

    def stages(self, iterations):
        t0, t1 = self.bounds[self.time_axis]
        cuts = [t0 + (t1 - t0) * (k + 1) / self.windows for k in range(self.windows)]
        starts = split(iterations, self.steps, self.windows)
        return [Stage(s, f"t<={c:.3g}", window=(t0, c)) for s, c in zip(starts, cuts)]
