"""u_theta and its derivatives by name, for the residuals of any PDE.

Names are ``"u"``, ``"u_<axes>"``: ``u_t``, ``u_x``, ``u_xx``, ``u_xy``, with one letter per
differentiation, drawn from the PDE's axis names. Two engines compute them:

- ``autograd``: nested ``torch.autograd.grad`` with ``create_graph=True``; works for any model.
- ``streams``: forward derivative streams (:mod:`pinn_cli.models.streams`); MLPs with tanh or sin.
  Exact (same maths, different order of floating-point operations) and faster.

``engine="auto"`` takes streams where the model supports them. With ``compiled``, the streams
run under torch.compile (:func:`pinn_cli.models.streams.compiled_stream_forward`) except when
taps are captured; if compilation fails (no C++ compiler, an unsupported platform), the field
says so once and continues with the eager streams.
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger("pinn_cli")


class Derivatives(dict):
    """A dict of (N,) tensors with attribute access: ``d.u_xx is d["u_xx"]``."""

    __getattr__ = dict.__getitem__


def parse(names, axes: tuple[str, ...]) -> tuple[list[int], list[tuple[int, int]]]:
    """Derivative names -> (first-order axis indices, second-order index pairs) needed."""
    first, second = [], []
    for name in names:
        order = name.removeprefix("u_")
        if not name.startswith("u_") or not 1 <= len(order) <= 2 or any(a not in axes for a in order):
            raise ValueError(f"derivative {name!r} is not of the form u_<one or two of {axes}>")
        idx = [axes.index(a) for a in order]
        for i in idx:
            if i not in first:
                first.append(i)
        if len(idx) == 2:
            second.append(tuple(sorted(idx)))
    return first, second


class Field:
    """The network seen as a field u(x) with derivatives.

    Args:
        model: maps (N, d) -> (N, 1).
        axes: coordinate names in input order.
        engine: ``auto``, ``streams`` or ``autograd``.
        compiled: run the streams under torch.compile (falls back to eager if that fails).
    """

    def __init__(self, model: torch.nn.Module, axes: tuple[str, ...], engine: str = "auto",
                 compiled: bool = False):
        streams_ok = getattr(model, "supports_streams", False)
        if engine == "streams" and not streams_ok:
            raise ValueError("engine 'streams' needs an MLP with tanh or sin activation")
        self.model, self.axes = model, tuple(axes)
        self.engine = "streams" if engine in ("auto", "streams") and streams_ok else "autograd"
        self.taps: list | None = None  # set to [] to capture per-layer rows (see streams.py)
        self.compiled = compiled

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """u at x: (N, d) -> (N,)."""
        return self.model(x)[:, 0]

    def derivatives(self, x: torch.Tensor, names) -> Derivatives:
        """u and the named derivatives at x (N, d); each (N,)."""
        first, second = parse(names, self.axes)
        if self.engine == "streams":
            out = self._streams(x, first, second)[..., 0]                         # (S, N)
            d = Derivatives(u=out[0])
            d.update({self._name(i): out[1 + k] for k, i in enumerate(first)})
            d.update({self._name(*p): out[1 + len(first) + k] for k, p in enumerate(second)})
        else:
            d = self._autograd(x, first, second)
        return Derivatives({k: d[k] for k in ["u", *names]})

    def _streams(self, x, first, second) -> torch.Tensor:
        if self.compiled and self.taps is None:
            try:
                return self.model.forward_streams(x, first, second, compiled=True)
            except Exception as err:                     # noqa: BLE001 - any compiler failure
                log.warning("torch.compile is not usable here (%s: %s); continuing without it",
                            type(err).__name__, str(err).splitlines()[0] if str(err) else "")
                self.compiled = False
        return self.model.forward_streams(x, first, second, self.taps)

    def _name(self, *idx: int) -> str:
        return "u_" + "".join(self.axes[i] for i in idx)

    def _autograd(self, x, first, second) -> Derivatives:
        x = x.detach().requires_grad_(True)
        u = self.model(x)[:, 0]                                               # (N,)
        g = torch.autograd.grad(u.sum(), x, create_graph=True)[0]            # (N, d)
        d = Derivatives(u=u)
        d.update({self._name(i): g[:, i] for i in first})
        for i, j in second:
            gi = torch.autograd.grad(g[:, i].sum(), x, create_graph=True)[0]  # (N, d)
            d[self._name(i, j)] = gi[:, j]
        return d
