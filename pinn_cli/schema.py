"""Config schemas from the classes' own signatures.

A config group option names a class by ``_target_``; that class's ``__init__`` signature *is* the
option's schema. Each parameter's annotation says what is allowed, with ``typing.Annotated``
constraints from this module::

    def __init__(self, lr: Positive = 1e-3, decay_every: Count = 5000,
                 init: Literal["zeros", "residual"] = "zeros"): ...

:func:`check_node` checks a YAML node against it *without building anything*: unknown keys,
missing keys, wrong types, values out of range; each failure one :class:`ConfigError` naming the
key, the value and what is allowed. :func:`bad_values` turns the same annotations into values that
must be refused, so the tests cover every key of every group, a user's plugins included.

Why not Hydra's structured configs (dataclasses in a ConfigStore): they would state every
signature a second time, OmegaConf cannot express ranges, and its errors run over many lines.
"""
from __future__ import annotations

import inspect
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from omegaconf import DictConfig, ListConfig, OmegaConf

from pinn_cli.errors import ConfigError

MAX_COUNT = 10**9          # point counts and sizes beyond this cannot be allocated anywhere sensible
# The config groups whose options make a run's parts, in this order; every place that needs the
# names reads them here.
GROUPS = ("pde", "model", "optimizer", "weighting", "objective", "diagnostics", "sampling",
          "strategy")
# the groups an option is chosen from on the command line: the parts, presets (experiment),
# studies and a study's arms (arm/<study>)
SELECTABLE = GROUPS + ("experiment", "study", "arm")


@dataclass(frozen=True)
class Range:
    """lo <= v <= hi (or < with the open flags); None: unbounded on that side."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def ok(self, v) -> bool:
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return not (self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi))

    def describe(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
        return " and ".join(parts)


Count = Annotated[int, Range(1, MAX_COUNT)]            # sizes, point counts, cadences
NonNegInt = Annotated[int, Range(0, MAX_COUNT)]
Positive = Annotated[float, Range(0, None, lo_open=True)]
NonNeg = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1, lo_open=True, hi_open=True)]      # 0 < v < 1
UnitInterval = Annotated[float, Range(0, 1, lo_open=True)]               # 0 < v <= 1
Zero2One = Annotated[float, Range(0, 1, hi_open=True)]                   # 0 <= v < 1


def _members(annotation) -> list:
    """The alternatives of a union other than None (``Count | Literal["auto"]``); [] otherwise."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args if len(args) > 1 else []
    return []


def _split(annotation):
    """-> (base type, Range or None, optional?)."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else Any
    rng = None
    if typing.get_origin(annotation) is Annotated:
        annotation, *meta = typing.get_args(annotation)
        rng = next((m for m in meta if isinstance(m, Range)), None)
    return annotation, rng, optional


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_value(key: str, value, annotation) -> None:
    """Raise ConfigError unless ``value`` fits ``annotation``."""
    members = _members(annotation)
    if members:
        if value is None and type(None) in typing.get_args(annotation):
            return
        for m in members:
            try:
                return check_value(key, value, m)
            except ConfigError:
                pass
        raise ConfigError(key, _plain(value), describe(annotation))
    base, rng, optional = _split(annotation)
    if value is None:
        if optional or base is Any:
            return
        raise ConfigError(key, value, describe(annotation))
    origin = typing.get_origin(base)
    bad = False
    if base is Any or base is inspect.Parameter.empty:
        return
    if base is bool:
        bad = not isinstance(value, bool)
    elif base is int:
        bad = isinstance(value, bool) or not isinstance(value, int)
    elif base is float:
        bad = not _is_number(value) or not math.isfinite(value)
    elif base is str:
        bad = not isinstance(value, str)
    elif origin is Literal:
        bad = value not in typing.get_args(base)
    elif origin in (list, tuple):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        if not isinstance(value, (list, tuple, ListConfig)):
            bad = True
        elif origin is tuple and Ellipsis not in typing.get_args(base) and len(value) != len(args):
            bad = True
        else:
            for i, v in enumerate(value):
                check_value(f"{key}[{i}]", v, args[min(i, len(args) - 1)] if args else Any)
    elif typing.is_typeddict(base):
        if not isinstance(value, (dict, DictConfig)):
            bad = True
        else:
            fields = typing.get_type_hints(base, include_extras=True)
            for k, v in value.items():
                if k not in fields:
                    raise ConfigError(f"{key}.{k}", _plain(v), f"no such key (its keys: {', '.join(fields)})")
                check_value(f"{key}.{k}", v, fields[k])
    elif origin is dict or base is dict:
        if not isinstance(value, (dict, DictConfig)):
            bad = True
        elif typing.get_args(base):
            for k, v in value.items():
                check_value(f"{key}.{k}", v, typing.get_args(base)[1])
    if not bad and rng is not None and _is_number(value):
        bad = not rng.ok(value)
    if bad:
        raise ConfigError(key, _plain(value), describe(annotation))


def describe(annotation) -> str:
    """What an annotation allows, in words: 'an integer >= 1', 'one of zeros, residual'."""
    members = _members(annotation)
    if members:
        none = " or null" if type(None) in typing.get_args(annotation) else ""
        return " or ".join(describe(m) for m in members) + none
    base, rng, optional = _split(annotation)
    origin = typing.get_origin(base)
    if origin is Literal:
        text = "one of " + ", ".join(str(a) for a in typing.get_args(base))
    elif base is bool:
        text = "true or false"
    elif base is int:
        text = "an integer" + (f" {rng.describe()}" if rng else "")
    elif base is float:
        text = "a finite number" + (f" {rng.describe()}" if rng else "")
    elif base is str:
        text = "a string"
    elif origin in (list, tuple):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        n = f"{len(args)} " if origin is tuple and Ellipsis not in typing.get_args(base) else ""
        text = f"a list of {n}values, each {describe(args[0]) if args else 'any'}"
    elif typing.is_typeddict(base):
        text = "a mapping with keys " + ", ".join(typing.get_type_hints(base))
    elif origin is dict or base is dict:
        text = "a mapping" + (f" of {describe(typing.get_args(base)[1])}" if typing.get_args(base) else "")
    else:
        text = getattr(base, "__name__", str(base))
    return text + (" or null" if optional else "")


def _plain(value):
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value)
    return value


def signature_of(target: str | type):
    """-> (callable, {param: annotation}, accepts **kwargs) for a _target_ path or class."""
    from hydra.utils import get_object

    obj = get_object(target) if isinstance(target, str) else target
    params, var_kw = {}, True
    # a class whose __init__ takes **kwargs forwards them to its base class: take its keys too
    for fn in ([c.__init__ for c in obj.__mro__ if "__init__" in vars(c)] if inspect.isclass(obj)
               else [obj]):
        if not var_kw or fn is object.__init__:
            break
        hints, var_kw = typing.get_type_hints(fn, include_extras=True), False
        for name, p in inspect.signature(fn).parameters.items():
            if name == "self" or p.kind is p.VAR_POSITIONAL:
                continue
            if p.kind is p.VAR_KEYWORD:
                var_kw = True
                continue
            params.setdefault(name, (hints.get(name, Any), p.default))
    return obj, params, var_kw


def check_node(prefix: str, node, supplied: tuple[str, ...] = ()) -> None:
    """Check a group node (a mapping with ``_target_``) against its target's signature, and
    every node with a ``_target_`` inside it (a mapping value, or an item of a list value), at
    any depth: the whole schema walk, done once.

    ``supplied`` names the arguments the assembly step passes itself when the node leaves them
    null or out (the problem's context: ``in_dim``, ``periodic_axes``, ...).
    """
    target = node.get("_target_")
    if not isinstance(target, str):
        raise ConfigError(f"{prefix}._target_", target, "a dotted path to a class")
    try:
        _, params, var_kw = signature_of(target)
    except Exception as e:                              # noqa: BLE001 - import errors of any kind
        raise ConfigError(f"{prefix}._target_", target,
                          f"an importable class ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    keys = [k for k in node if not str(k).startswith("_")]
    for k in keys:
        if k not in params and not var_kw:
            allowed = ", ".join(p for p in params if p not in supplied)
            raise ConfigError(f"{prefix}.{k}", _plain(node[k]),
                              f"no such key for {target.rsplit('.', 1)[-1]} (its keys: {allowed})")
    for name, (annotation, default) in params.items():
        if name in supplied and node.get(name) is None:
            continue
        if name not in node:
            if default is inspect.Parameter.empty:
                raise ConfigError(f"{prefix}.{name}", "missing", describe(annotation))
            continue
        check_value(f"{prefix}.{name}", node[name], annotation)
    for k in keys:
        value = node[k]
        items = [(f"{prefix}.{k}", value)] if _is_target(value) else \
            [(f"{prefix}.{k}[{i}]", v) for i, v in enumerate(value) if _is_target(v)] \
            if isinstance(value, (list, ListConfig)) else []
        for key, sub in items:
            check_node(key, sub, supplied)


def _is_target(value) -> bool:
    return isinstance(value, (dict, DictConfig)) and "_target_" in value


def bad_values(annotation) -> list:
    """Values that ``annotation`` must refuse: wrong type, out of range, empty."""
    members = _members(annotation)
    if members:
        candidates = [v for m in members for v in bad_values(m)]
        out = []
        for v in candidates:
            try:
                check_value("k", v, annotation)
            except ConfigError:
                if not any(v is o or v == o for o in out):
                    out.append(v)
        return out
    base, rng, optional = _split(annotation)
    origin = typing.get_origin(base)
    out = [] if optional else [None]
    if base in (int, float):
        out += ["abc", [1, 2], float("nan") if base is float else 1.5]
        if rng is not None and rng.lo is not None:
            out.append(rng.lo - 1 if not rng.lo_open else rng.lo)
        if rng is not None and rng.hi is not None:
            out.append(rng.hi + 1 if not rng.hi_open else rng.hi)
        if base is float:
            out.append(float("inf"))
    elif base is bool:
        out += ["abc", 2]
    elif origin is Literal:
        out += ["no_such_choice", 1]
    elif origin in (list, tuple):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        elem = [v for v in bad_values(args[0]) if v is not None][:1] if args else []
        out += [5] + [elem * max(1, len(args) if origin is tuple else 1) for _ in elem]
    elif origin is dict or base is dict or typing.is_typeddict(base):
        out += ["abc", [1]]
    return out
