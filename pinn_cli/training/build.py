"""Assembly: from a validated config to the run's parts, each group built once.

``build`` instantiates the PDE, reads its :class:`pinn_cli.problem.Problem`, and instantiates the
other groups with the problem's context (a constructor parameter named after a context key gets
the problem's value unless the YAML sets it: ``in_dim``, ``periodic_axes``, ``time_axis``, ...;
:mod:`pinn_cli.problem`), at every depth of a node (a probe of the diagnostics, a scheme of a
combined weighting). Then it checks, once and in one place:

- each object fulfils its group's contract (a plugin's class included);
- every plugin's ``check(problem)`` (a weighting's terms and time axis, a probe's batches);
- the PDE's loss weights name its terms; the points fit in memory;
- the phase actions the probes may take against the optimizer (``next_stage`` needs stages);
- the derivative engine against the model.

The command-line pre-check calls it for every combination of a sweep, on the ``meta`` device,
where a model allocates nothing and no reference is computed: a single run and a sweep's
up-front check are the same code. An exception raised by a user's plugin while it is built or
checked is that plugin's: one line naming it and the cause (:class:`PluginError`).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf

from pinn_cli.diagnostics.recorder import Diagnostics
from pinn_cli.errors import ConfigError, PinnError
from pinn_cli.models.base import Model
from pinn_cli.objective.spec import ObjectiveSpec
from pinn_cli.optimizers.base import OptimizerSpec
from pinn_cli.pdes.base import PDE
from pinn_cli.problem import Problem
from pinn_cli.training.resources import check_memory, check_model_memory
from pinn_cli.sampling.base import Sampler
from pinn_cli.strategies.base import Strategy
from pinn_cli.weighting.base import Weighting

# each group's base class, in the order of schema.GROUPS (a test holds them equal)
CONTRACTS = {"pde": PDE, "model": Model, "optimizer": OptimizerSpec, "weighting": Weighting,
             "objective": ObjectiveSpec, "diagnostics": Diagnostics, "sampling": Sampler,
             "strategy": Strategy}
# built first: the problem the others are told of comes from them; the model next, sized first
FIRST = ("pde", "objective")
TOLD = tuple(g for g in CONTRACTS if g not in FIRST + ("model",))


class PluginError(PinnError):
    """A user's (or any) plugin raised while it was built or checked: its fault, one line."""

    def __init__(self, group: str, target, err: BaseException):
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        super().__init__(f"{group}: {target} failed: {type(err).__name__}: {reason}".rstrip(": "))


@dataclass
class Parts:
    pde: PDE
    problem: Problem
    model: Model
    optimizer: OptimizerSpec
    weighting: Weighting
    objective: ObjectiveSpec
    diagnostics: Diagnostics
    sampling: Sampler
    strategy: Strategy


def with_context(node, context: dict):
    """A plain copy of ``node`` in which every ``_target_`` mapping, at any depth, has each
    parameter named after a context key that it leaves null or out set to the context's value."""
    if isinstance(node, (DictConfig, dict)):
        plain = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
        out = {k: with_context(v, context) for k, v in plain.items()}
        if isinstance(out.get("_target_"), str):
            for name in _parameters(out["_target_"]) & set(context):
                if out.get(name) is None:
                    out[name] = context[name]
        return out
    if isinstance(node, (list, tuple)) or OmegaConf.is_list(node):
        return [with_context(v, context) for v in node]
    return node


def _parameters(target: str) -> set[str]:
    try:
        obj = get_object(target)
    except Exception:                           # noqa: BLE001 - reported by instantiate
        return set()
    fns = [c.__init__ for c in obj.__mro__ if "__init__" in vars(c)] if inspect.isclass(obj) else [obj]
    return {n for fn in fns for n in inspect.signature(fn).parameters}


def instantiate(node, group: str, context: dict | None = None):
    """``hydra.utils.instantiate`` with the problem's context; a PinnError from inside passes
    unwrapped, any other exception becomes a :class:`PluginError` naming the group's target."""
    target = node.get("_target_") if hasattr(node, "get") else node
    try:
        return hydra_instantiate(with_context(node, context or {}))
    except InstantiationException as e:
        cause = e.__cause__
        while cause is not None and not isinstance(cause, PinnError):
            cause = cause.__cause__
        if cause is None:
            raise PluginError(group, target, e.__cause__ or e) from e
        raise cause from None
    except MemoryError:
        raise
    except PinnError:
        raise
    except Exception as e:                      # noqa: BLE001 - the plugin's own fault
        raise PluginError(group, target, e) from e


def build(cfg: DictConfig, device: torch.device, dtype: torch.dtype) -> Parts:
    """-> the run's parts; ConfigError or PluginError (one line) for what does not fit."""
    objs = {group: instantiate(cfg[group], group) for group in FIRST}
    for group in FIRST:
        _contract(group, objs[group], cfg)
    # the problem the run trains on (the PDE, or the regression of its reference) is the one
    # the other plugins are told of
    trained = objs["objective"].problem(objs["pde"], cfg.get("reference_cache"))
    problem = _checked(lambda: Problem.of(trained), "pde", cfg)
    context = problem.context()
    try:
        with torch.device("meta"):               # sized before anything is allocated
            check_model_memory(instantiate(cfg.model, "model", context), dtype)
        with torch.device(device):
            objs["model"] = instantiate(cfg.model, "model", context).to(dtype)
        _finite_parameters(objs["model"], cfg)
    except (MemoryError, RuntimeError) as e:
        if isinstance(e, RuntimeError) and "memory" not in str(e).lower():
            raise PluginError("model", cfg.model.get("_target_"), e) from e
        raise ConfigError("model", f"{cfg.model.get('width', '?')} wide, {cfg.model.get('depth', '?')} deep",
                          "a model that fits in memory (model.width / model.depth smaller)") from None
    for group in TOLD:
        objs[group] = instantiate(cfg[group], group, context)
    for group in CONTRACTS:
        _contract(group, objs[group], cfg)
    parts = Parts(problem=problem, **{**objs, "pde": trained})
    parts.diagnostics.leave_out_what_does_not_apply(problem)
    _check(parts, cfg, dtype)
    return parts


def _contract(group, obj, cfg) -> None:
    base = CONTRACTS[group]
    if not isinstance(obj, base):
        raise ConfigError(f"{group}._target_", cfg[group].get("_target_"),
                          f"a subclass of {base.__module__}.{base.__name__}")


def _finite_parameters(model, cfg) -> None:
    """A model whose initial parameters hold NaN or inf (a bad initialisation, a division by a
    zero width) is refused as the model's fault, before the first step turns it into a NaN loss."""
    for name, p in model.named_parameters():
        if not p.is_meta and not bool(torch.isfinite(p).all()):
            raise PluginError("model", cfg.model.get("_target_"), ValueError(
                f"its parameter {name!r} holds NaN or inf after construction"))


def _checked(fn, group: str, cfg):
    """fn(), with a plugin's own exception reported as its fault."""
    try:
        return fn()
    except PinnError:
        raise
    except Exception as e:                      # noqa: BLE001
        raise PluginError(group, cfg[group].get("_target_"), e) from e


def _check(parts: Parts, cfg: DictConfig, dtype: torch.dtype) -> None:
    """The checks that need the problem, or two groups at once."""
    problem = parts.problem
    unknown = sorted(set(parts.pde.loss_weights) - set(problem.terms))
    if unknown:
        raise ConfigError(f"pde.loss_weights.{unknown[0]}", parts.pde.loss_weights[unknown[0]],
                          f"a weight of one of this PDE's terms ({', '.join(problem.terms)})")
    weights = {t: float(parts.pde.loss_weights.get(t, 1.0)) for t in problem.terms}
    if not any(w > 0 for w in weights.values()):
        raise ConfigError("pde.loss_weights", weights, "at least one weight > 0 (with all of them "
                          "zero the loss is 0 and nothing trains)")
    check_memory(problem, dtype)
    _checked(lambda: parts.weighting.check(problem), "weighting", cfg)
    for probe in parts.diagnostics.probes:
        _checked(lambda: probe.check(problem), "diagnostics", cfg)
        for action in probe.actions_possible():
            if action.needs_stages and not parts.optimizer.stages:
                choice = cfg.get("optimizer", {}).get("_target_", "")
                raise ConfigError(f"diagnostics.{probe.group}.on_total_diffusion", action.name,
                                  f"none, decay_lr or stop: {choice.rsplit('.', 1)[-1]} runs in one "
                                  "stage (next_stage needs a staged optimizer, e.g. "
                                  "optimizer=adam_lbfgs)")
    _checked(lambda: parts.strategy.check(problem, parts.pde), "strategy", cfg)
    moving = parts.sampling.every > 0 or any(s.window for s in parts.strategy.stages(cfg.iterations))
    if moving and parts.weighting.trains_per_point:
        raise ConfigError("weighting", cfg.weighting.get("_target_", "").rsplit(".", 1)[-1],
                          "a weighting without trainable per-point weights when the points move "
                          "(sampling or time-marching; SA's weights belong to fixed points)")
    batches = {p.batches for p in parts.diagnostics.probes if p.needs_capture}
    if len(batches) > 1:
        raise ConfigError("diagnostics", sorted(batches), "one SNR batch count for every probe "
                          "(diagnostics.snr.batches and diagnostics.terms.batches)")
    if parts.sampling.grows and batches and parts.sampling.add % min(batches):
        raise ConfigError("sampling.add", parts.sampling.add, f"a multiple of the SNR's "
                          f"{min(batches)} batches (the batches stay equal as the points grow)")
    if (cfg.engine == "streams" or cfg.compile) and not parts.model.supports_streams:
        key = "engine" if cfg.engine == "streams" else "compile"
        raise ConfigError(key, cfg[key], "a model with derivative streams (supports_streams)")
