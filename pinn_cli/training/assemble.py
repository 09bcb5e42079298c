"""Assembly: a validated config -> the runtime parts of a run, in one function for training, resume
and :func:`pinn_cli.load`.

    build(cfg)          each group instantiated with the problem's context and checked (build.py)
    assemble(cfg)       + the field that differentiates the model, the training points, the loss
                        engine, the optimizer and its schedule, the reference and its evaluator,
                        the stager (sampling, strategy), the recorder and the probes' view: a Runtime
    assemble(cfg, train=False)
                        only what evaluates a trained network (the PDE, its problem, the model,
                        the field, the chunk): a Network; nothing sampled, no reference computed

A :class:`Runtime` names everything a checkpoint holds in one place, :meth:`Runtime.state_dict` and
:meth:`Runtime.load_state_dict`: the parameters, the optimizer and schedule, the weighting, the stage
and its points, the derivative engine's state, every random-number state, the best network so far,
the first loss (for divergence), the step, the wall time and the resolved config.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field as dataclass_field
from functools import partial

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from pinn_cli.diagnostics.recorder import Recorder
from pinn_cli.errors import PinnError
from pinn_cli.fields import Field
from pinn_cli.problem import Problem
from pinn_cli.reference.cache import ReferenceCache
from pinn_cli.training.best import BestModel
from pinn_cli.training.build import PluginError, build, instantiate
from pinn_cli.training.checks import check_observables, check_outputs
from pinn_cli.training.evaluate import Evaluator
from pinn_cli.training.loss_engine import LossEngine
from pinn_cli.training.run_view import run_view
from pinn_cli.training.stages import Stager


def field_engine(cfg) -> str:
    """The field's engine for a run's config. engine=auto: nested autograd for derivatives up to
    second order on ordinary steps (fastest and leanest measured on a CPU), derivative streams from
    third order and on every SNR step, whose backward then yields every batch gradient
    (scripts/bench_orders.py). compile=true: the streams under torch.compile on ordinary steps."""
    return "streams" if cfg.get("compile") else cfg.get("engine", "auto")


def chunk_size(cfg, device: torch.device) -> int:
    """Points per pass (0: all at once). chunk_size=auto: 4,096 on a CPU (cache-sized: ~2x
    faster per step measured, scripts/bench_step.py); on a GPU 65,536 (bounded memory, full
    occupancy)."""
    chunk = cfg.get("chunk_size", "auto")
    if chunk in ("auto", None):
        return 4096 if device.type == "cpu" else 1 << 16
    return int(chunk)


def as_tensor(a, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)


@dataclass
class Network:
    """What evaluates a network: its PDE and problem, the model, the field that differentiates
    it, and the points per evaluation pass (``chunk_size``: 0 all at once; the same in training,
    where the loss engine rounds its own chunks to whole SNR batches, and in pinn_cli.load)."""

    pde: object
    problem: Problem
    model: torch.nn.Module
    field: Field
    chunk: int


@dataclass
class Runtime(Network):
    """Everything a training run steps, records and checkpoints."""

    config_yaml: str
    optimizer_spec: object
    recorder: Recorder
    weighting: object
    loss: LossEngine
    optimizer: torch.optim.Optimizer
    schedule: object
    evaluator: Evaluator
    stager: Stager
    view: object
    best: BestModel = dataclass_field(default_factory=BestModel)
    loss_ref: torch.Tensor | None = None        # the run's first loss, for divergence

    def state_dict(self, step: int, wall_time: float) -> dict:
        """What a checkpoint after ``step`` updates holds (the whole list: resume needs nothing
        else to continue bit for bit on the same device and dtype)."""
        return {
            "step": step, "wall_time": wall_time, "config": self.config_yaml,
            "loss_ref": self.loss_ref, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.schedule is None else self.schedule.state_dict(),
            "weighting": self.weighting.state_dict(), "best": self.best.state(),
            "stages": self.stager.state_dict(), "engine": self.loss.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}}

    def check_resumable(self, state: dict) -> None:
        """Refuse (PinnError, one line) a checkpoint this run cannot continue from, before any
        file is touched: one that lacks a part of :meth:`state_dict` (``best``, ``stages`` and
        ``engine`` may be absent: checkpoints written before they existed), or whose stage does
        not fit (:meth:`Stager.check_resumable`)."""
        missing = sorted({"model", "optimizer", "scheduler", "weighting", "rng", "loss_ref",
                          "wall_time"} - state.keys())
        if missing:
            raise PinnError(f"the checkpoint lacks {', '.join(missing)}: not a training checkpoint")
        self.stager.check_resumable(state.get("stages"))

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint's state (checked by :meth:`check_resumable`)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["scheduler"])
        self.weighting.load_state_dict(state["weighting"])
        self.stager.load_state_dict(state.get("stages"))
        self.loss.load_state_dict(state.get("engine"))
        self.loss_ref = state["loss_ref"]
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def assemble(cfg: DictConfig, device: torch.device, dtype: torch.dtype, *,
             train: bool = True) -> Runtime | Network:
    """The runtime parts of the run ``cfg`` describes (``train=False``: only its network)."""
    tensor = partial(as_tensor, dtype=dtype, device=device)
    chunk = chunk_size(cfg, device)
    if not train:
        pde = instantiate(cfg.pde, "pde")
        problem = Problem.of(pde)
        with torch.device(device):
            model = instantiate(cfg.model, "model", problem.context()).to(dtype)
        return Network(pde, problem, model, Field(model, pde.axes, field_engine(cfg), False,
                                                  pde.outputs), chunk)
    parts = build(cfg, device, dtype)
    pde, model, weighting = parts.pde, parts.model, parts.weighting
    recorder = parts.diagnostics.recorder(cfg.eval_every)
    field = Field(model, pde.axes, field_engine(cfg), cfg.compile, pde.outputs)
    target = cfg.pde.get("_target_")
    try:
        points = {k: tensor(v) for k, v in pde.sample(np.random.default_rng(cfg.seed)).items()}
    except MemoryError:
        raise PinnError(f"pde.n_collocation={pde.n_collocation}: the points do not fit in memory")
    except PinnError:
        raise
    except Exception as e:                        # noqa: BLE001 - the PDE's own fault
        raise PluginError("pde", target, e) from e
    check_outputs(pde, field, points, target)                                # points: (N_k, d)
    for stage in parts.strategy.stages(cfg.iterations):   # each coefficient a stage moves to
        if stage.coefficient:
            key, value = stage.coefficient
            own = getattr(pde, key)
            setattr(pde, key, value)
            try:
                check_outputs(pde, field, points, target)
            except PinnError as e:
                raise PinnError(f"strategy.values: with {key}={value:g}, {e}") from None
            finally:
                setattr(pde, key, own)
    weighting.setup(points)
    loss = LossEngine(pde, field, weighting, points, chunk, recorder.batches,
                      fast_capture=cfg.engine != "autograd", rho=parts.objective.rho)
    optimizer, schedule = parts.optimizer.build(list(model.parameters()))
    try:
        with np.errstate(all="ignore"):     # a solver that fails says so once, not per operation
            ref = pde.reference(ReferenceCache(cfg.get("reference_cache")))
    except PinnError:
        raise
    except Exception as e:                        # noqa: BLE001 - a solver that gives up
        raise PluginError("pde", f"{target} (its reference)", e) from e
    evaluator = Evaluator(pde, field, ref, tensor, chunk)      # as pinn_cli.load evaluates
    check_observables(pde, field, evaluator.values, evaluator.points, target)
    stager = Stager(parts.strategy, parts.sampling, pde=pde, problem=parts.problem, field=field,
                    loss=loss, weighting=weighting, seed=cfg.seed, tensor=tensor,
                    iterations=cfg.iterations)
    view = run_view(problem=parts.problem, pde=pde, model=model, field=field, loss=loss,
                    weighting=weighting, optimizer=optimizer, evaluator=evaluator, device=device,
                    dtype=dtype)
    return Runtime(pde=pde, problem=parts.problem, model=model, field=field, chunk=chunk,
               config_yaml=OmegaConf.to_yaml(cfg, resolve=True), optimizer_spec=parts.optimizer,
               recorder=recorder, weighting=weighting, loss=loss, optimizer=optimizer,
               schedule=schedule, evaluator=evaluator, stager=stager, view=view)
