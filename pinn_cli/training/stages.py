"""The points and the PDE as a run's stages and its sampler move them.

Before each step the :class:`Stager` applies what is due:

- a new stage of the strategy (:mod:`pinn_cli.strategies`): its coefficient set on the PDE; its
  time window: every term's points drawn anew and their time coordinate mapped affinely from the
  problem's [T0, T1] onto the window [T0, t_k] (uniform draws stay uniform, t = T0 stays T0);
- else a resample of the interior points by the sampler (:mod:`pinn_cli.sampling`).

Either way the weighting is told the new points with each one's nearest old point
(``Weighting.resample``), the loss engine takes them, and the change is a record of ``/stages``
(stage index, whether the points changed, how many interior points there are). Draws come from
generators seeded by (seed, step), and the checkpoint holds the current points and stage: a
resumed run continues with exactly the points the uninterrupted one had.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from scipy.spatial import cKDTree

from pinn_cli.diagnostics.residuals import magnitude
from pinn_cli.errors import ConfigError
from pinn_cli.runfile import SeriesSpec

log = logging.getLogger("pinn_cli")
GROUP = "stages"


class Stager:
    """Args:
        strategy, sampler: the run's ``strategy`` and ``sampling`` options.
        pde, problem, field, loss, weighting: the run's parts.
        seed: the run's seed; tensor: numpy -> the run's tensors.
        iterations: the run's length (a stage that starts after it is not reached: warned).
    """

    def __init__(self, strategy, sampler, *, pde, problem, field, loss, weighting, seed, tensor,
                 iterations):
        self.stages = strategy.stages(iterations)
        starts = [s.start for s in self.stages]
        if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])):
            given = getattr(strategy, "steps", None)
            if given:
                raise ConfigError("strategy.steps", list(given), "stage lengths >= 1")
            raise ConfigError("iterations", iterations, f"at least one step per stage: the "
                              f"strategy has {len(starts)} stages")
        late = [s.name for s in self.stages if s.start >= iterations]
        if late:                        # a run cut short, to be continued with more iterations
            log.warning("stages %s start after the run's %d iterations", ", ".join(late), iterations)
        self.sampler, self.pde, self.problem, self.field = sampler, pde, problem, field
        self.loss, self.weighting, self.seed, self.tensor = loss, weighting, seed, tensor
        self.index = -1                  # no stage applied yet
        first = self.stages[0]
        self.static = len(self.stages) == 1 and not (first.window or first.coefficient) \
            and not sampler.every          # the paper's run: nothing ever moves

    # ---- the run file ------------------------------------------------------------------------
    def spec(self) -> tuple[dict, dict]:
        """(series, static) of ``/stages``; nothing for a run with one fixed stage."""
        if self.static:
            return {}, {}
        series = {GROUP: SeriesSpec({"stage": ((), "i8"), "resampled": ((), "i1"),
                                     "n_points": ((), "i8")})}
        names = np.array([s.name.encode() for s in self.stages])
        return series, {f"{GROUP}_stage_names": names}

    # ---- one step ------------------------------------------------------------------------------
    def before_step(self, step: int) -> dict | None:
        """Apply the stage or resample due at ``step``; -> the ``/stages`` record, or None."""
        if self.static:
            return None
        k = self.stage_at(step)
        if k != self.index:
            self.index = k
            stage = self.stages[k]
            if stage.coefficient:
                setattr(self.pde, *stage.coefficient)
            if stage.window:
                self._move(self._draw_all(step))
            if step > 0:
                log.info("step %d: stage %s", step, stage.name)
            return self._record(resampled=bool(stage.window))
        if self.sampler.due(step):
            rng = torch.Generator().manual_seed(
                int(np.random.default_rng((self.seed, step, 1)).integers(2 ** 62)))
            res = self.sampler.resample(step, self.loss.points["res"], self._draw(step),
                                        self._residual, rng)
            self._move({**self.loss.points, "res": res})
            return self._record(resampled=True)
        return None

    def stage_at(self, step: int) -> int:
        return max(i for i, s in enumerate(self.stages) if s.start <= step)

    def _record(self, resampled: bool) -> dict:
        return {"stage": np.int64(self.index), "resampled": np.int8(resampled),
                "n_points": np.int64(len(self.loss.points["res"]))}

    # ---- points --------------------------------------------------------------------------------
    def _window_map(self, pts: np.ndarray) -> np.ndarray:
        """Map the time coordinate of ``pts`` (n, d) from the problem's interval onto the
        current stage's window."""
        window = self.stages[max(self.index, 0)].window
        if window is None:
            return pts
        a = self.problem.time_axis
        lo, hi = self.problem.bounds[a]
        out = pts.copy()
        out[:, a] = window[0] + (pts[:, a] - lo) * (window[1] - window[0]) / (hi - lo)
        return out

    def _draw_all(self, step: int) -> dict[str, torch.Tensor]:
        draw = self.pde.sample(np.random.default_rng((self.seed, step, 0)))
        return {k: self.tensor(self._window_map(v)) for k, v in draw.items()}

    def _draw(self, step: int):
        """n fresh interior points (within the window), from the PDE's own sampler."""
        def draw(n: int) -> torch.Tensor:
            parts, i = [], 0
            while sum(len(p) for p in parts) < n:
                i += 1
                parts.append(self.pde.sample(np.random.default_rng((self.seed, step, i)))["res"])
            return self.tensor(self._window_map(np.concatenate(parts)[:n]))
        return draw

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        """|r| at x (M, d), (M,), chunk by chunk, without a graph."""
        with torch.enable_grad():
            return torch.cat([magnitude(self.pde.residual(self.field, c)).detach()
                              for c in x.split(self.loss.chunk)])

    def _move(self, points: dict[str, torch.Tensor]) -> None:
        old = self.loss.points
        nearest = {}
        for k, new in points.items():
            if new is old.get(k):
                continue
            tree = cKDTree(old[k].detach().cpu().double().numpy())
            idx = tree.query(new.detach().cpu().double().numpy())[1]
            nearest[k] = torch.as_tensor(idx, device=new.device)
        self.weighting.resample(points, nearest)
        self.loss.set_points(points)

    # ---- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"index": self.index, "starts": [s.start for s in self.stages],
                "points": {k: v.detach().clone() for k, v in self.loss.points.items()}}

    def check_resumable(self, state: dict | None) -> None:
        """A checkpoint's stages (``state``: its ``stages`` entry) must be this run's: a resume
        never moves them (equal parts of another ``iterations``). Checked before any file is
        touched."""
        starts = [s.start for s in self.stages]
        if state and state["starts"] != starts:
            raise ConfigError("iterations", f"stages at {starts}", f"the resumed run's stages, at "
                              f"{state['starts']} (its strategy splits its own iterations: give "
                              "strategy.steps to change the length)")

    def load_state_dict(self, state: dict | None) -> None:
        """A resumed run: its stage (and coefficient) and its points as they were (its stages
        were checked by :meth:`check_resumable` when the checkpoint was opened)."""
        if not state:
            return
        self.index = state["index"]
        if self.index >= 0 and self.stages[self.index].coefficient:
            setattr(self.pde, *self.stages[self.index].coefficient)
        device = self.loss.points["res"].device
        points = {k: v.to(device) for k, v in state["points"].items()}
        self.weighting.resample(points, {})     # the weights are the checkpoint's; a slab is not
        self.loss.set_points(points)
