"""The best network a run has seen, by its headline error, kept beside the last one.

Adam's last steps are noisy: a run's final rel-L2 can sit on a spike ten times above the level it
held a hundred steps before. Every evaluation (``eval_every`` steps, and the final one) offers the
error of the parameters it measured; the lowest so far is the run's *best*, its step and error go
to the run file's outcome (``best_rel_l2``, ``best_step``), and its parameters to the run folder's
best checkpoint (``RunFolder.best``; written with the checkpoints, so never more often than they
are).

It holds ``{"step", "rel_l2", "model", "config"}``: the network as a ``state_dict`` and
the resolved config that builds it (:func:`pinn_cli.load` reads either checkpoint).
"""
from __future__ import annotations

import shutil

import torch

from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint


class BestModel:
    """Tracks the lowest headline error and the parameters it was measured at."""

    def __init__(self):
        self.rel_l2: float | None = None
        self.step: int | None = None
        self._state: dict | None = None          # parameters not yet written

    def offer(self, rel_l2: float, step: int, model: torch.nn.Module) -> None:
        """The error of ``model``'s current parameters, measured at ``step``."""
        if rel_l2 == rel_l2 and (self.rel_l2 is None or rel_l2 < self.rel_l2):   # NaN never wins
            self.rel_l2, self.step = float(rel_l2), int(step)
            self._state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def save(self, run_dir, config_yaml: str) -> None:
        """Write the best checkpoint if a better network was seen since the last write."""
        if self._state is None:
            return
        checkpoint.save_state(RunFolder(run_dir).best, {"step": self.step, "rel_l2": self.rel_l2,
                                                     "model": self._state, "config": config_yaml})
        self._state = None

    def state(self) -> dict:
        """What the last checkpoint keeps for a resume."""
        return {"rel_l2": self.rel_l2, "step": self.step}

    def restore(self, state: dict | None, source_dir, run_dir) -> None:
        """A resumed run: the best so far from the checkpoint, and its best checkpoint into this run's
        folder when it resumes another's."""
        if not state:
            return
        self.rel_l2, self.step = state["rel_l2"], state["step"]
        src, dst = RunFolder(source_dir).best, RunFolder(run_dir).best
        if src.is_file() and src.resolve() != dst.resolve():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
