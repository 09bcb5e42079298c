"""The training loop: build the run, step, evaluate, record, checkpoint, resume.

One iteration i (0-based) takes the parameters after i updates, forms the pointwise residuals,
lets the weighting scheme update and re-weight them, and makes one optimizer step on the loss of
:class:`pinn_cli.training.loss_engine.LossEngine`. Records at step i describe the parameters the
iteration started from (loss, rel-L2); the final record, at step = iterations, describes the
trained network. Nothing in the loop copies from the device except on the recording, logging and
checkpoint cadences (and, on a CPU, the divergence check, where a host copy is free).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import random
import time
import traceback
from pathlib import Path

import h5py
import numpy as np
import torch
from omegaconf import DictConfig

import pinn_cli
from pinn_cli.diagnostics.base import StepState
from pinn_cli.errors import ConfigError, PinnError
from pinn_cli.run_folder import RunFolder
from pinn_cli.runfile.io import FINAL
from pinn_cli.training import checkpoint
from pinn_cli.training.assemble import assemble
from pinn_cli.training.build import PluginError
from pinn_cli.training.stages import GROUP as STAGES
from pinn_cli.training.validate import DTYPES, resolve_device, validate
from pinn_cli.training.preemption import StopSignals
from pinn_cli.training.progress import Reporter
from pinn_cli.training.resume import open_run_file, resume_source
from pinn_cli.training.threads import threads_for

log = logging.getLogger("pinn_cli")
# Exit codes of pinn-train, by final status (README, "Exit codes").
EXIT_CODES = {"done": 0, "diverged": 3, "failed": 4, "interrupted": 130,
              "preempted": 143}       # 128 + SIGTERM, where no scheduler handler exited first


class ProbeError(PinnError):
    """A probe raised during the run: the run ends as failed (exit 4), its file readable."""


def _positions(model) -> list[int]:
    """The indices of the model's weight matrices in ``model.parameters()``."""
    where = {id(p): i for i, p in enumerate(model.parameters())}
    return [where[id(w)] for w in model.weight_matrices()]


def _one_line(e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """A run, built from a composed config, writing into ``run_dir``.

    Args:
        cfg: the composed config (primary keys and the groups).
        run_dir: the run folder.
        identity: how the run is named: ``{"choices": {group: option}, "overrides": [...]}``
            (what Hydra composed); stored in the run file for pinn-analyze.
    """

    def __init__(self, cfg: DictConfig, run_dir, identity: dict | None = None):
        validate(cfg)
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.identity = identity or {}
        self.device, self.dtype = resolve_device(cfg.device), DTYPES[cfg.dtype]
        seed_all(cfg.seed)
        self.parts = r = assemble(cfg, self.device, self.dtype)
        # the parts the loop and the phase actions use, by their names; they mutate them (an lr,
        # a stage), never rebind them: the checkpoint is the Runtime's state_dict
        self.pde, self.problem, self.model, self.field = r.pde, r.problem, r.model, r.field
        self.weighting, self.loss, self.optimizer, self.schedule = r.weighting, r.loss, r.optimizer, r.schedule
        self.optimizer_spec, self.recorder, self.evaluator = r.optimizer_spec, r.recorder, r.evaluator
        self.stager, self.view, self.best, self.config_yaml = r.stager, r.view, r.best, r.config_yaml
        self._weights = _positions(self.model)      # where the weight matrices sit among params
        self._stop = False
        self._breakdown = ""                        # why the arithmetic broke down, if it did

    @property
    def loss_ref(self) -> torch.Tensor | None:
        """The run's first loss (divergence is measured against it)."""
        return self.parts.loss_ref

    @loss_ref.setter
    def loss_ref(self, value) -> None:
        self.parts.loss_ref = value

    # ---- one iteration ---------------------------------------------------------------------
    def step(self, i: int, capture: int = 0):
        """Residuals, weighting update, backward, optimizer step, schedule and weighting steps."""
        if self.optimizer_spec.needs_closure:
            closure, results = self.loss.closure(i, capture)
            self.optimizer.step(closure)
            out = results[0]
        else:
            self.loss.zero_grad()
            out = self.loss.backward(i, capture=capture)
            self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.weighting.step()
        return out

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    # ---- the run ---------------------------------------------------------------------------
    def run(self) -> dict:
        self.threads = threads_for(self.cfg.threads)
        try:
            with StopSignals() as stop:
                summary = self._run(stop)
        finally:
            self.threads.close()
        stop.forward()                 # a scheduler's signal goes on to its handler (requeue)
        if stop.interrupted and summary["status"] == "done":
            summary["interrupted"] = True  # Ctrl-C after the last step: the run is done, a sweep stops
        return summary

    def _run(self, stop: StopSignals) -> dict:
        start, wall0 = self._open()
        cfg = self.cfg
        reporter = Reporter(cfg.iterations, start)
        bad = torch.zeros((), dtype=torch.bool, device=self.device)  # diverged at any step so far
        every_step = self.device.type == "cpu"        # a host copy is free on a CPU
        status, last_err, t0, done = "done", None, time.perf_counter() - wall0, start
        try:
            for i in range(start, cfg.iterations):
                if stop.signum is not None:
                    status = "interrupted" if stop.interrupted else "preempted"
                    break
                moved = self.stager.before_step(i)
                if moved is not None:
                    self.writer.append(STAGES, i, **moved)
                probes = self.recorder.due(i)
                before = {p.group: self._probe(p, p.before, self.view, i) for p in probes}
                self._offer_best(before, i)
                lr = self.lr()
                capture = any(p.needs_capture for p in probes)
                try:
                    out = self.step(i, self.recorder.batches if capture else 0)
                except ArithmeticError as e:     # e.g. a line search dividing by a zero step
                    self._breakdown = f"{type(e).__name__} in the optimizer step ({e})"
                    status = "diverged"
                    break
                if self.loss_ref is None:
                    self.loss_ref = out.loss
                # NaN compares false, so this also catches NaN and inf; no host sync here
                bad |= ~(out.loss <= cfg.divergence_factor * self.loss_ref)
                done = i + 1
                if probes:
                    rec = self._record(probes, self.step_state(i, out, lr, time.perf_counter() - t0,
                                                           before)).get("metrics", {})
                    last_err = rec.get("rel_l2", last_err)
                    self._act(probes, done)
                    if self._stop:
                        break
                reporter.advance(i)
                self.threads.tick()
                log_now, ckpt_now = done % cfg.log_every == 0, done % cfg.checkpoint_every == 0
                if every_step or log_now or ckpt_now or done == cfg.iterations:
                    if bad.item():
                        status = "diverged"
                        break
                    if log_now:
                        reporter.report(i, out.loss.item(), last_err, self._status())
                    if ckpt_now:
                        self._checkpoint(done, time.perf_counter() - t0)
        except KeyboardInterrupt:
            status = "interrupted"
        except (PinnError, OSError) as e:           # an output that cannot be written mid-run
            reporter.close()
            return self._fail(e, done)
        except Exception as e:                      # noqa: BLE001 - the step itself failed
            reporter.close()
            return self._fail(PinnError(f"training raised {_one_line(e)} at step {done} "
                                        f"(traceback in {self._keep_traceback()})"), done)
        except BaseException:
            reporter.close()
            self._close("failed", steps=done)
            raise
        reporter.close()
        try:
            return self._finish(status, done, time.perf_counter() - t0)
        except (PinnError, OSError) as e:
            return self._fail(e, done)

    def step_state(self, step: int, out, lr: float, wall: float, before: dict) -> StepState:
        """What the step leaves for the probes; term gradients over the weight matrices."""
        grads = None if out.term_grads is None else {
            k: [g[j] for j in self._weights] for k, g in out.term_grads.items()}
        return StepState(step, out.loss, out.terms, out.residuals, self.loss.points, lr, wall,
                         before, out.batch_moments, grads)

    def _probe(self, probe, fn, *args):
        """A probe's call; what it raises is the probe's fault: one line (ProbeError), the
        traceback kept in the run folder's traceback.txt."""
        try:
            return fn(*args)
        except (PinnError, OSError, KeyboardInterrupt):
            raise
        except Exception as e:                        # noqa: BLE001
            raise ProbeError(f"diagnostics.{probe.group} ({type(probe).__name__}) raised "
                             f"{_one_line(e)} (traceback in {self._keep_traceback()})") from e

    def _keep_traceback(self) -> Path:
        """The exception being handled, its traceback written to the run folder's file."""
        where = RunFolder(self.run_dir).traceback_file
        with contextlib.suppress(OSError):
            where.write_text(traceback.format_exc())
        return where

    def _record(self, probes, state: StepState) -> dict:
        """Write one record per probe; -> {group: record} (host arrays)."""
        records = {p.group: self._probe(p, p.record, self.view, state) for p in probes}
        for group, rec in records.items():
            self.writer.append(group, state.step, **rec)
        return records

    def _act(self, probes, step: int) -> None:
        """Carry out the actions the probes asked for (a phase action)."""
        for p in probes:
            while p.actions:
                action = p.actions.pop(0)
                log.info("step %d: %s asked for %s", step, p.group, action.name)
                action.apply(self)

    # ---- RunControl: what a phase action may change (pinn_cli.diagnostics.actions) ----------
    def scale_lr(self, factor: float) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] *= factor
        if self.schedule is not None:              # a schedule computes from base_lrs
            self.schedule.base_lrs = [b * factor for b in self.schedule.base_lrs]

    def next_stage(self) -> None:
        self.optimizer.next_stage()               # a Staged optimizer: checked before training

    def stop(self) -> None:
        self._stop = True

    def _status(self) -> str:
        return "  ".join(t for t in (p.status() for p in self.recorder.probes) if t)

    def _offer_best(self, before: dict, step: int) -> None:
        """The headline error the metrics probe measured (on its cadence) competes for best."""
        if "metrics" in before:
            self.best.offer(next(iter(before["metrics"].values())).item(), step, self.model)

    def _checkpoint(self, step: int, wall: float) -> None:
        self.best.save(self.run_dir, self.config_yaml)       # first: the last checkpoint names it
        checkpoint.save(self.run_dir, self.parts.state_dict(step, wall))

    def _close(self, status: str, **attrs) -> None:
        """Close the run file as ``status``; when the file refused a write before, it keeps
        status 'running' (said once, by :meth:`_fail`)."""
        refused = bool(self.writer.failed)
        try:
            self.writer.close(status, **attrs)
        except (PinnError, OSError) as e:
            if not refused:
                log.error("could not mark %s as %s: %s", self.writer.path, status, e)

    def _fail(self, err: Exception, steps: int) -> dict:
        keeps = (f"; {self.writer.path.name} keeps every earlier record, status 'running'"
                 if self.writer.failed else "")
        log.error("failed at step %d: %s%s", steps, str(err).splitlines()[0] if str(err) else err, keeps)
        self._close("failed", steps=steps)
        return {"status": "failed", "steps": steps, "run_dir": str(self.run_dir), "error": str(err)}

    def _finish(self, status: str, steps: int, wall: float) -> dict:
        summary = {"status": status, "steps": steps, "run_dir": str(self.run_dir)}
        if status == "done":
            # the trained network: every probe that does not need a training step records it
            final = [p for p in self.recorder.probes if not p.needs_capture]
            before = {p.group: self._probe(p, p.before, self.view, steps) for p in final}
            self._offer_best(before, steps)
            self._checkpoint(steps, wall)
            with torch.enable_grad():
                out = self.loss.evaluate()
            self._record(final, self.step_state(steps, out, self.lr(), wall, before))
            errs = before["metrics"] if "metrics" in before else self.evaluator.rel_l2()
            summary.update(final_loss=out.loss.item(), final_rel_l2=next(iter(errs.values())).item(),
                           headline=next(iter(errs)))
            if len(errs) > 1 and self.evaluator.joint is not None:
                summary.update(rel_l2={k: v.item() for k, v in errs.items()},
                               joint_rel_l2=self.evaluator.joint.item())
        elif status == "diverged":
            kept = "the last checkpoint" if RunFolder(self.run_dir).has_checkpoint() else "no checkpoint"
            why = self._breakdown or (f"the loss became NaN, inf or over divergence_factor="
                                      f"{self.cfg.divergence_factor:g} times its first value")
            log.error("diverged: %s by step %d; stopped. The run file (readable) and %s are kept "
                      "in %s", why, steps, kept, self.run_dir)
        elif status in ("interrupted", "preempted"):
            self._checkpoint(steps, wall)
            log.warning("%s at step %d; checkpoint saved: a requeued job continues by itself, "
                        "or continue with resume=%s", status, steps, self.run_dir)
        if self.best.step is not None:
            summary.update(best_rel_l2=self.best.rel_l2, best_step=self.best.step)
        attrs = {k: v for k, v in summary.items() if k in FINAL and k != "status"}
        self.writer.close(status, wall_time=wall, **attrs)
        if not self.writer.path.exists():
            log.warning("%s was deleted during the run: its records are gone (the checkpoint is "
                        "kept)", self.writer.path)
        return summary

    # ---- run folder, run file, resume -------------------------------------------------------
    def _open(self) -> tuple[int, float]:
        """Create or resume the run file; -> (first iteration, wall-clock offset)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            series, static = self.recorder.layout(self.view)
        except PinnError:
            raise
        except Exception as e:                        # noqa: BLE001 - a probe's own fault
            raise PluginError("diagnostics", "a probe's spec or static", e) from e
        stage_series, stage_static = self.stager.spec()
        source = resume_source(self.run_dir, self.cfg.get("resume"))
        writer, state, old = open_run_file(self.run_dir, source, self.device,
                                           self.config_yaml, self._attrs(), {**series, **stage_series},
                                           {**static, **stage_static},
                                           self._check_resumable)
        self.writer = writer
        if state is None:
            return 0, 0.0
        for p in self.recorder.probes:
            data = old.series.get(p.group, {})
            if len(data.get("step", ())):
                keep = data["step"] < state["step"]
                p.restore({k: v[keep] for k, v in data.items()})
        self.parts.load_state_dict(state)
        self.best.restore(state.get("best"), source, self.run_dir)
        return state["step"], state["wall_time"]

    def _check_resumable(self, state: dict) -> None:
        """Before any file is touched: the checkpoint fits this run, and this run has steps
        left after it (``iterations`` below the checkpoint's step would train nothing, silently)."""
        self.parts.check_resumable(state)
        if int(state["step"]) > self.cfg.iterations:
            raise ConfigError("iterations", self.cfg.iterations, f"at least the {int(state['step'])} "
                              "steps of the checkpoint resumed from")

    def _attrs(self) -> dict:
        return {"config": self.config_yaml, "pinn_cli_version": pinn_cli.__version__,
                "torch_version": str(torch.__version__), "h5py_version": h5py.__version__,
                "device": str(self.device), "dtype": self.cfg.dtype, "seed": self.cfg.seed,
                "engine": self.cfg.engine, "compile": self.cfg.compile, "host": platform.node(),
                "pid": os.getpid(), "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
                "start_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "pde": type(self.pde).__name__, "iterations": self.cfg.iterations,
                "choices": json.dumps(self.identity.get("choices", {})),
                "overrides": json.dumps(self.identity.get("overrides", []))}


def run(cfg: DictConfig, run_dir, identity: dict | None = None) -> dict:
    """Train one run described by ``cfg`` into ``run_dir``; -> summary dict (status, errors)."""
    return Trainer(cfg, run_dir, identity).run()
