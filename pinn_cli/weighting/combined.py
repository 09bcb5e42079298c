"""Several weighting schemes applied in order: W = W_n o ... o W_1, written in the config.

    _target_: pinn_cli.weighting.Combined
    schemes:
      - {_target_: pinn_cli.weighting.RBA, eta: 1.0e-3, gamma: 0.999}
      - {_target_: pinn_cli.weighting.GradNorm, every: 100}

gives W[e]_k = sqrt(lambda_k) (lambda^RBA_i e_i) for the interior: RBA re-weights the points,
grad-norm balances the terms as RBA leaves them (``conf/weighting/rba_gradnorm.yaml``).

The schemes are built (and their settings checked, by the same schema walk as every node) before
Combined is; ``check(problem)`` checks each against the problem.

- ``update``: scheme j updates from the residuals as the schemes before it leave them
  (detached): scheme 1 from e, scheme 2 from W_1[e] with W_1 already updated, and so on.
- ``apply``: in order, each with the same ``rows``.
- ``parameters``/``step``: all schemes' trainable weights, each scheme stepping its own.
- per-term gradients: asked for when any scheme asks, handed to those that asked.
- ``weights()``: per term, the per-point weights of the first scheme that has them.
- ``stats()``: every scheme's, prefixed by its class name (``rba_res_mean``,
  ``gradnorm_res_mean``), so that the names stay distinct.
"""
from __future__ import annotations

import torch

from pinn_cli.errors import ConfigError
from pinn_cli.weighting.base import Weighting


class Combined(Weighting):
    """Args:
        schemes: the schemes, in order (in YAML: each a mapping with ``_target_`` and its settings).
    """

    def __init__(self, schemes: list[dict]):
        if not schemes:
            raise ConfigError("weighting.schemes", [], "a non-empty list of weighting schemes")
        for i, s in enumerate(schemes):
            if not isinstance(s, Weighting) or isinstance(s, Combined):
                raise ConfigError(f"weighting.schemes[{i}]", getattr(s, "get", lambda k: s)("_target_"),
                                  "a mapping with _target_ naming a Weighting other than Combined")
        self.schemes = list(schemes)
        self.trains_per_point = any(s.trains_per_point for s in self.schemes)
        self.uses_residuals = any(s.uses_residuals for s in self.schemes)
        self.names = []
        for s in self.schemes:
            name = type(s).__name__.lower()
            self.names.append(name if name not in self.names else f"{name}{len(self.names)}")

    def check(self, problem):
        for s in self.schemes:
            s.check(problem)

    def setup(self, points):
        for s in self.schemes:
            s.setup(points)

    def resample(self, points, nearest):
        for s in self.schemes:
            s.resample(points, nearest)

    def update(self, residuals, step):
        for j, s in enumerate(self.schemes):
            s.update(residuals, step)
            if residuals is not None and j < len(self.schemes) - 1:
                residuals = {k: v.detach() for k, v in s.apply(residuals).items()}

    def apply(self, residuals, rows=None):
        for s in self.schemes:
            residuals = s.apply(residuals, rows)
        return residuals

    def parameters(self):
        return [p for s in self.schemes for p in s.parameters()]

    def step(self):
        for s in self.schemes:
            s.step()

    def wants_term_grads(self, step: int) -> bool:
        return any(s.wants_term_grads(step) for s in self.schemes)

    def term_gradients(self, grads, step: int) -> None:
        for s in self.schemes:
            if s.wants_term_grads(step):
                s.term_gradients(grads, step)

    def weights(self) -> dict[str, torch.Tensor]:
        out = {}
        for s in self.schemes:
            for k, w in s.weights().items():
                out.setdefault(k, w)
        return out

    def stats(self):
        return {f"{name}_{k}": v for name, s in zip(self.names, self.schemes)
                for k, v in s.stats().items()}

    def state_dict(self):
        return {"schemes": [s.state_dict() for s in self.schemes]}

    def load_state_dict(self, state):
        for s, st in zip(self.schemes, state["schemes"]):
            s.load_state_dict(st)
