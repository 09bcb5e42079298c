"""A trained network, loaded from its run folder and evaluated at your own points.

    import pinn_cli
    net = pinn_cli.load("outputs/2026-11-28/14-03-11")          # its last checkpoint
    u = net(points)                                              # (N, d) -> (N,) or (N, m)
    d = net.derivatives(points, ["u_x", "u_xx"])                 # {name: (N,)}
    net.observables(points), net.errors()                        # the PDE's observables; rel-L2

The model is rebuilt from the resolved config stored in the checkpoint, by the same assembly as
pinn-train (:func:`pinn_cli.training.build.instantiate` with the problem's context: the PDE first,
then the model told its axes, outputs and periodic axes), and its parameters are loaded; nothing
is trained or sampled. ``checkpoint="last"`` (the default) is the network at the end of the run,
the one its final record describes; ``"best"`` the one with the lowest headline error among the
evaluations (the best checkpoint: chosen against the reference, so its error is an optimistic
estimate). Numpy points give numpy arrays, tensors give tensors (derivatives keep their graph).

A user's own PDE or model (``_target_: my_plugins.Plate``) is imported as pinn-train did: from the
folder pinn-train ran in and its ``--config-dir`` (read from the run's ``.hydra/hydra.yaml``), and
from the current folder; the PDE is built with that folder as the working folder, so that a
relative data file it reads is found again.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from omegaconf import OmegaConf

from pinn_cli.errors import PinnError
from pinn_cli.training.checkpoint import read as read_checkpoint
from pinn_cli.plugins import check_targets, importable, recorded_runtime, run_folders
from pinn_cli.run_folder import CHECKPOINTS, RunFolder, migrated
from pinn_cli.training.validate import DTYPES, resolve_device


class TrainedModel:
    """The network of a run as a callable on points (built by :func:`load`).

    Attributes:
        axes, outputs: the input coordinate and output names, e.g. ("x", "y"), ("u",).
        step: the number of updates the parameters had; rel_l2: the best checkpoint's error
            (else None).
        config: the run's resolved config (an OmegaConf DictConfig).
        pde, model, field: the PDE, the ``torch.nn.Module`` and the field that differentiates it.
        chunk: points per evaluation pass (the run's: 4,096 on a CPU; 0: all at once).
    """

    def __init__(self, *, pde, model, field, config, step, rel_l2, path, device, dtype, chunk):
        self.pde, self.model, self.field, self.config = pde, model, field, config
        self.axes, self.outputs = tuple(pde.axes), tuple(pde.outputs)
        self.step, self.rel_l2, self.path = step, rel_l2, path
        self.device, self.dtype, self.chunk = device, dtype, chunk

    def __repr__(self) -> str:
        return (f"TrainedModel({type(self.pde).__name__}: {self.axes} -> {self.outputs}, "
                f"step {self.step}, {self.path})")

    def _points(self, x) -> tuple[torch.Tensor, bool]:
        numpy = not isinstance(x, torch.Tensor)
        t = torch.as_tensor(np.asarray(x, dtype=float) if numpy else x)
        if t.ndim == 1 and len(self.axes) == 1:
            t = t[:, None]
        if t.ndim != 2 or t.shape[1] != len(self.axes):
            raise ValueError(f"points of shape {tuple(t.shape)}: expected (N, {len(self.axes)}) "
                             f"with columns {', '.join(self.axes)}")
        return t.to(self.device, self.dtype), numpy

    def _each(self, x, fn, grad: bool = False) -> dict:
        """fn(chunk) -> {name: (n,)} over chunks of the points, joined; numpy for numpy input
        (with a graph only for a tensor that requires grad, or when ``grad``)."""
        t, numpy = self._points(x)
        with torch.set_grad_enabled(grad or t.requires_grad):
            parts = [fn(c) for c in (t.split(self.chunk or len(t)) if len(t) else [t])]
        out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        return {k: v.detach().cpu().numpy() for k, v in out.items()} if numpy else out

    def __call__(self, x):
        """The network at points x (N, d): (N,) for one output, (N, m) for several."""
        return self._each(x, lambda c: {"y": self.field(c)})["y"]

    def derivatives(self, x, names) -> dict:
        """{name: (N,)} for names such as ``u_x``, ``u_xx``, ``psi_xy`` (and each output's value),
        by nested autograd (any order)."""
        names = [names] if isinstance(names, str) else list(names)
        return self._each(x, lambda c: dict(self.field.derivatives(c, names)), grad=True)

    def observables(self, x) -> dict:
        """{name: (N,)}: what the PDE's reference holds (its ``observables``), at x."""
        return self._each(x, lambda c: self.pde.observables(self.field, c))

    def errors(self, reference_cache: str | None = None) -> dict[str, float]:
        """{observable: relative L2 error} against the PDE's reference, computed as the run did
        (same points, chunks, device and dtype: the run's final ``rel_l2`` for the last checkpoint)."""
        from pinn_cli.reference.cache import ReferenceCache
        from pinn_cli.training.evaluate import Evaluator
        cache = ReferenceCache(reference_cache or self.config.get("reference_cache"))
        with _working_folder(self.path):
            ref = self.pde.reference(cache)
        def tensor(a):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype, device=self.device)
        errs = Evaluator(self.pde, self.field, ref, tensor, self.chunk).rel_l2()
        return {k: float(v) for k, v in errs.items()}


def load(run, checkpoint: Literal["last", "best"] = "last", device: str = "cpu",
         dtype: str | None = None) -> TrainedModel:
    """The trained network of ``run`` (a run folder, or a checkpoint file).

    Args:
        run: ``outputs/DATE/TIME`` (or a ``.pt`` file of it).
        checkpoint: ``last`` (the end of the run) or ``best`` (the lowest headline error).
        device: where to evaluate (``cpu``, ``cuda``...).
        dtype: ``float32`` or ``float64``; default the run's.
    """
    from pinn_cli.training.assemble import assemble

    path = Path(run)
    if not path.exists():
        raise PinnError(f"{path}: no such run folder or checkpoint")
    if path.is_dir():
        if checkpoint not in CHECKPOINTS:
            raise PinnError(f"checkpoint={checkpoint!r} is not allowed: expected last or best")
        path = RunFolder(path).checkpoint(checkpoint)
    state = _read(path)
    cfg = OmegaConf.create(migrated(state["config"]))
    folder = RunFolder.of_checkpoint(path).path
    check_targets(OmegaConf.to_container(cfg), run_folders(folder), str(path))
    dt = DTYPES.get(dtype or cfg.get("dtype", "float32"))
    if dt is None:
        raise PinnError(f"dtype={dtype!r} is not allowed: expected float32 or float64")
    device = resolve_device(device)
    with importable(run_folders(folder)), _working_folder(path):
        net = assemble(cfg, device, dt, train=False)
    try:
        net.model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise PinnError(f"{path}: its parameters do not fit the model its config builds "
                        f"({str(e).splitlines()[0]})") from None
    net.model.eval()
    return TrainedModel(pde=net.pde, model=net.model, field=net.field, config=cfg,
                        step=int(state["step"]), rel_l2=state.get("rel_l2"), path=path,
                        device=device, dtype=dt, chunk=net.chunk)


def _read(path: Path) -> dict:
    """A checkpoint's state (last or best): PinnError, one line, if it cannot be read."""
    if not path.is_file():
        raise PinnError(f"{path}: no checkpoint there (the run saved none yet, or this is not a "
                        "run folder)")
    try:
        state = read_checkpoint(path, "cpu")
    except FileNotFoundError:
        raise PinnError(f"{path}: no such checkpoint") from None
    if not isinstance(state, dict) or not {"model", "config", "step"} <= state.keys():
        raise PinnError(f"{path}: not a pinn-cli checkpoint")
    return state


@contextlib.contextmanager
def _working_folder(checkpoint_path: Path):
    """The folder pinn-train ran in as the working folder (a PDE's relative data files), when
    the run records it and it still exists."""
    cwd = recorded_runtime(RunFolder.of_checkpoint(checkpoint_path).path).get("cwd")
    if not cwd or not os.path.isdir(cwd) or os.path.abspath(cwd) == os.getcwd():
        yield
        return
    here = os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
