"""The training loop: build the run from its config, step, evaluate, record, checkpoint, resume.

One iteration i (0-based) takes the parameters after i updates, forms the pointwise residuals,
lets the weighting scheme update and re-weight them, and makes one Adam step on

    L = sum_k w_k mean(e_k^2)     (k over the PDE's terms: res, ic, bc)

Records at step i describe the parameters the iteration started from (loss, rel-L2); the final
record, at step = iterations, describes the trained network. Nothing in the loop copies from the
device except on the recording, logging and checkpoint cadences.
"""
from __future__ import annotations

import logging
import os
import platform
import random
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

import pinn_cli
from pinn_cli.training import checkpoint
from pinn_cli.config.validate import DTYPES, check_config, instantiate, resolve_device
from pinn_cli.diagnostics.recorder import StepState
from pinn_cli.diagnostics.snr import (batch_gradients_from_taps, check_batches,
                                      naive_batch_gradients)
from pinn_cli.errors import ConfigError, PinnError
from pinn_cli.models.fields import Field
from pinn_cli.training.preemption import StopSignals
from pinn_cli.training.progress import Reporter
from pinn_cli.reference.cache import ReferenceCache
from pinn_cli.runfile import RunWriter, read_run

log = logging.getLogger("pinn_cli")
RUN_FILE = "run.h5"
# Keys that must equal the checkpoint's for a resumed run to continue the same computation.
RESUME_KEYS = ("pde", "model", "optimizer", "weighting", "diagnostics", "seed", "dtype", "engine",
               "chunk_size", "compile")


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """A run, built from a composed config, writing into ``run_dir``."""

    def __init__(self, cfg: DictConfig, run_dir):
        check_config(cfg)
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.device, self.dtype = resolve_device(cfg.device), DTYPES[cfg.dtype]
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_all(cfg.seed)
        self.pde = instantiate(cfg.pde)
        self.model = instantiate(cfg.model, in_dim=self.pde.dim).to(self.device, self.dtype)
        # engine=auto: nested autograd on ordinary steps (fastest and leanest measured on a CPU,
        # scripts/bench_step.py), derivative streams on SNR steps, whose backward then yields
        # every batch gradient. Both give the same derivatives (tests/test_derivatives.py).
        # compile=true: the streams under torch.compile on ordinary steps (no gain measured on a
        # CPU, scripts/bench_formulations.py; meant for GPUs, where fusion saves launches).
        streams_ok = self.model.supports_streams
        self.step_engine = "streams" if cfg.engine == "streams" or cfg.compile else "autograd"
        self.capture_engine = "streams" if cfg.engine != "autograd" and streams_ok else "autograd"
        self.field = Field(self.model, self.pde.axes, self.step_engine, compiled=cfg.compile)
        self.optimizer, self.scheduler = instantiate(cfg.optimizer).build(self.model.parameters())
        self.weighting = instantiate(cfg.weighting)
        self.recorder = instantiate(cfg.diagnostics).recorder(cfg.eval_every)
        snr = [p for p in self.recorder.probes if p.needs_capture]
        self.snr_batches = snr[0].batches if snr else 0
        points = self.pde.sample(np.random.default_rng(cfg.seed))
        self.points = {k: self._tensor(v) for k, v in points.items()}  # (N_k, d) each
        n_res = len(self.points["res"])
        chunk = cfg.chunk_size
        if chunk == "auto":        # cache-sized chunks help a CPU; a GPU wants one big batch
            chunk = 4096 if self.device.type == "cpu" else 0
        self.chunk = chunk or n_res
        if self.snr_batches:       # whole SNR batches per chunk, so that taps split by batch
            per_batch = check_batches(n_res, self.snr_batches)
            self.chunk = max(1, self.chunk // per_batch) * per_batch
        self.term_names = list(self.pde.loss_weights)
        self.weighting.setup({k: len(v) for k, v in self.points.items()}, self.device, self.dtype)
        ref = self.pde.reference(ReferenceCache(cfg.get("reference_cache")))
        self.ref_points = self._tensor(ref.points())                        # (M, d)
        self.ref_values = self._tensor(ref.values.ravel())                  # (M,)
        self.config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
        self.loss_ref: torch.Tensor | None = None  # the run's first loss, for divergence

    def _tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype, device=self.device)

    # ---- the computation -------------------------------------------------------------------
    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The PDE residual at x (N, d) -> (N,), computed in chunks of ``chunk_size`` points.

        The same numbers as one pass over all points (up to summation order), but each chunk's
        tensors stay in the CPU's cache and never page-fault: measured ~2x faster per step on
        the paper network on a 2-core CPU (scripts/bench_step.py).
        """
        if len(x) <= self.chunk:
            return self.pde.residual(self.field, x)
        return torch.cat([self.pde.residual(self.field, c) for c in x.split(self.chunk)])

    def loss(self, update_weights: bool):
        """-> (loss (), terms {k: ()}, residuals {k: (N_k,)}) at the current parameters."""
        res = {"res": self.residual(self.points["res"]), **self.pde.conditions(self.field, self.points)}
        if update_weights:
            self.weighting.update(res)
        weighted = self.weighting.apply(res)
        terms = {k: weighted[k].square().mean() for k in self.term_names}
        loss = sum(self.pde.loss_weights[k] * terms[k] for k in self.term_names)
        return loss, terms, res

    def forward_backward(self, capture: bool = False, update_weights: bool = True):
        """Gradients of the loss at the current parameters -> (loss, terms, residuals, batch_grads).

        With ``capture``, also every SNR batch gradient (:mod:`pinn_cli.diagnostics.snr`): from
        this backward itself where the derivative streams allow it, else one backward per batch.
        """
        self.optimizer.zero_grad(set_to_none=True)
        batch_grads = None
        fast = capture and self.capture_engine == "streams"
        if capture and not fast:
            batch_grads = naive_batch_gradients(self, self.snr_batches)
        self.field.taps = [] if fast else None
        self.field.engine = "streams" if fast else self.step_engine
        try:
            loss, terms, res = self.loss(update_weights)
            loss.backward()
            if fast:
                batch_grads = batch_gradients_from_taps(self.field.taps,
                                                        self.model.weight_matrices(), self.snr_batches)
        finally:
            self.field.taps, self.field.engine = None, self.step_engine
        return loss, terms, res, batch_grads

    def step(self, capture: bool = False):
        """One iteration: residuals, weighting update, backward, Adam step, schedule step."""
        out = self.forward_backward(capture)
        self.optimizer.step()
        self.scheduler.step()
        return out

    @torch.no_grad()
    def rel_l2(self) -> torch.Tensor:
        """||u_theta - u_ref||_2 / ||u_ref||_2 over the reference grid, a () tensor on the device."""
        u = torch.cat([self.field(x) for x in self.ref_points.split(1 << 16)])  # (M,)
        return torch.linalg.vector_norm(u - self.ref_values) / torch.linalg.vector_norm(self.ref_values)

    # ---- the run ---------------------------------------------------------------------------
    def run(self) -> dict:
        with StopSignals() as stop:
            summary = self._run(stop)
        stop.forward()                 # a scheduler's signal goes on to its handler (requeue)
        return summary

    def _run(self, stop: StopSignals) -> dict:
        start, wall0 = self._open()
        cfg = self.cfg
        reporter = Reporter(cfg.iterations, start)
        bad = torch.zeros((), dtype=torch.bool, device=self.device)  # diverged at any step so far
        status, last_err, t0, done = "done", None, time.perf_counter() - wall0, start
        try:
            for i in range(start, cfg.iterations):
                if stop.signum is not None:
                    status = "preempted"
                    break
                probes = self.recorder.due(i)
                before = {p.group: p.before(self, i) for p in probes}
                lr = self.scheduler.get_last_lr()[0]
                loss, terms, res, grads = self.step(any(p.needs_capture for p in probes))
                if self.loss_ref is None:
                    self.loss_ref = loss.detach()
                # NaN compares false, so this also catches NaN and inf; no host sync here
                bad |= ~(loss.detach() <= cfg.divergence_factor * self.loss_ref)
                done = i + 1
                if probes:
                    state = StepState(i, loss, terms, res, lr, time.perf_counter() - t0, before, grads)
                    last_err = self._record(probes, state).get("metrics", {}).get("rel_l2", last_err)
                reporter.advance(i)
                log_now, ckpt_now = done % cfg.log_every == 0, done % cfg.checkpoint_every == 0
                if log_now or ckpt_now or done == cfg.iterations:
                    if bad.item():
                        status = "diverged"
                        break
                    if log_now:
                        reporter.report(i, loss.item(), last_err)
                    if ckpt_now:
                        self._checkpoint(done, time.perf_counter() - t0)
        except KeyboardInterrupt:
            status = "interrupted"
        except BaseException:
            reporter.close()
            self.writer.close("failed", steps=done)
            raise
        reporter.close()
        return self._finish(status, done, time.perf_counter() - t0)

    def _record(self, probes, state: StepState) -> dict:
        """Write one record per probe; -> {group: record} (host arrays)."""
        records = {p.group: p.record(self, state) for p in probes}
        for group, rec in records.items():
            self.writer.append(group, state.step, **rec)
        return records

    def _checkpoint(self, step: int, wall: float) -> None:
        checkpoint.save(self.run_dir, step=step, model=self.model, optimizer=self.optimizer,
                        scheduler=self.scheduler, weighting=self.weighting, wall_time=wall,
                        config_yaml=self.config_yaml, loss_ref=self.loss_ref)

    def _finish(self, status: str, steps: int, wall: float) -> dict:
        summary = {"status": status, "steps": steps, "run_dir": str(self.run_dir)}
        if status == "done":
            self._checkpoint(steps, wall)
            # the trained network: every probe that does not need a training step records it
            final = [p for p in self.recorder.probes if not p.needs_capture]
            before = {p.group: p.before(self, steps) for p in final}
            with torch.enable_grad():
                loss, terms, res = self.loss(update_weights=False)
            state = StepState(steps, loss, terms, res, self.scheduler.get_last_lr()[0], wall, before)
            self._record(final, state)
            rel = before["metrics"] if "metrics" in before else self.rel_l2()
            summary.update(final_loss=loss.item(), final_rel_l2=rel.item())
        elif status == "diverged":
            log.error("diverged: the loss became NaN, inf or over divergence_factor=%g times its "
                      "first value by step %d; stopped. The run file and the last good checkpoint "
                      "are kept in %s", self.cfg.divergence_factor, steps, self.run_dir)
        elif status in ("interrupted", "preempted"):
            self._checkpoint(steps, wall)
            log.warning("%s at step %d; checkpoint saved: a requeued job continues by itself, "
                        "or continue with resume=%s", status, steps, self.run_dir)
        attrs = {k: v for k, v in summary.items() if k not in ("run_dir", "status")}
        self.writer.close(status, wall_time=wall, **attrs)
        return summary

    # ---- run folder, run file, resume -------------------------------------------------------
    def _open(self) -> tuple[int, float]:
        """Create or resume the run file; -> (first iteration, wall-clock offset)."""
        own = self.run_dir / checkpoint.CHECKPOINT
        source = self.run_dir if own.exists() else self.cfg.get("resume")
        path = self.run_dir / RUN_FILE
        if source is None:
            if path.exists():
                raise PinnError(f"{self.run_dir} already holds {RUN_FILE} without a checkpoint; "
                                "choose another output folder (nothing is overwritten)")
            self.writer = self._writer(path, resumed_from="")
            return 0, 0.0
        source = Path(source)
        ckpt = source / checkpoint.CHECKPOINT
        if not ckpt.exists():
            raise ConfigError("resume", str(source), "a run folder with checkpoints/last.pt")
        state = checkpoint.load(ckpt, self.device)
        self._check_resumable(state["config"])
        old_path = source / RUN_FILE
        if source == self.run_dir and path.exists():        # resume in place (requeue)
            old_path = path.with_suffix(".h5.prev")
            os.replace(path, old_path)
        old = read_run(old_path)
        checkpoint.restore(state, model=self.model, optimizer=self.optimizer,
                           scheduler=self.scheduler, weighting=self.weighting)
        self.loss_ref = state["loss_ref"]
        history = f"{old.attrs.get('resumed_from', '')}{source}@{state['step']};"
        self.writer = self._writer(path, resumed_from=history)
        self.writer.copy_records(old, before_step=state["step"])
        if source == self.run_dir:
            old_path.unlink()
        log.info("resumed from %s at step %d", source, state["step"])
        return state["step"], state["wall_time"]

    def _check_resumable(self, saved_yaml: str) -> None:
        saved, now = OmegaConf.create(saved_yaml), OmegaConf.create(self.config_yaml)
        for key in RESUME_KEYS:
            a, b = OmegaConf.select(saved, key), OmegaConf.select(now, key)
            if a != b:
                raise ConfigError("resume", f"{key}={b}", f"the resumed run's {key}={a}")

    def _writer(self, path: Path, resumed_from: str) -> RunWriter:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        series, static = self.recorder.layout(self)
        attrs = {"config": self.config_yaml, "pinn_cli_version": pinn_cli.__version__,
                 "torch_version": str(torch.__version__), "h5py_version": h5py.__version__,
                 "device": str(self.device), "dtype": self.cfg.dtype, "seed": self.cfg.seed,
                 "engine": self.cfg.engine, "compile": self.cfg.compile, "host": platform.node(),
                 "start_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resumed_from": resumed_from,
                 "pde": type(self.pde).__name__, "iterations": self.cfg.iterations}
        return RunWriter(path, attrs, series, static)


def run(cfg: DictConfig, run_dir) -> dict:
    """Train one run described by ``cfg`` into ``run_dir``; -> summary dict (status, errors)."""
    return Trainer(cfg, run_dir).run()
