"""The network seen as a field: named solution components and their derivatives of any order.

A PDE with inputs ``axes`` (single letters, e.g. ``("t", "x")``) and solution components
``outputs`` (e.g. ``("u",)`` or ``("psi", "p")``) names what it needs as ``<component>`` or
``<component>_<letters>``, one letter per differentiation: ``u``, ``u_t``, ``u_xx``,
``psi_xyy``, ``p_x``. Mixed partials are symmetric, so ``psi_xyy`` and ``psi_yxy`` are the same.

Two engines:

- ``autograd``: nested ``torch.autograd.grad`` with ``create_graph=True``; any model, any order.
  A derivative of order k is the gradient of one of order k - 1, so each is computed once and
  shared (``psi_xy`` serves ``psi_xyy``).
- ``streams``: forward derivative streams (:mod:`pinn_cli.models.streams`) for models that have
  them, up to second order; exact (the same maths in another order of operations) and the path on
  which the batch-gradient SNR comes for free. A request beyond second order falls back to
  autograd, and says so through :attr:`Field.streamed`.

With ``compiled``, the streams run under torch.compile except when taps are captured; if the
compiler fails, the field warns once and continues with the eager streams.
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger("pinn_cli")


class Derivatives(dict):
    """A dict of (N,) tensors with attribute access: ``d.u_xx is d["u_xx"]``."""

    __getattr__ = dict.__getitem__


def parse(name: str, outputs: tuple[str, ...], axes: tuple[str, ...]) -> tuple[int, tuple[int, ...]]:
    """``"psi_xyy"`` -> (component index, sorted axis indices), e.g. (0, (0, 1, 1))."""
    if name in outputs:
        return outputs.index(name), ()
    comp, _, letters = name.rpartition("_")
    if comp in outputs and letters and all(a in axes for a in letters):
        return outputs.index(comp), tuple(sorted(axes.index(a) for a in letters))
    raise ValueError(f"derivative {name!r} is not of the form <one of {outputs}>[_<letters of {axes}>]")


class Field:
    """Args:
        model: maps (N, d) -> (N, m), m = len(outputs).
        axes: input coordinate names (single letters) in input order.
        engine: ``auto``/``streams`` (streams where the model has them) or ``autograd``.
        compiled: run the streams under torch.compile (falls back to eager if that fails).
        outputs: solution component names in output order.
    """

    def __init__(self, model: torch.nn.Module, axes, engine: str = "auto", compiled: bool = False,
                 outputs=("u",)):
        self.model, self.axes, self.outputs = model, tuple(axes), tuple(outputs)
        if any(len(a) != 1 for a in self.axes):
            raise ValueError(f"axis names must be single letters, got {self.axes}")
        self.streams_ok = bool(getattr(model, "supports_streams", False))
        if engine == "streams" and not self.streams_ok:
            raise ValueError("engine 'streams' needs a model with derivative streams")
        self.engine = "streams" if engine in ("auto", "streams") and self.streams_ok else "autograd"
        self.taps: list | None = None   # set to [] to capture per-layer rows (see streams.py)
        self.streamed = True            # False once a request could not be served by the streams
        self.compiled = compiled

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The solution at x (N, d): (N,) for one component, (N, m) for several."""
        out = self._streams(x, [], [])[0] if self.taps is not None else self.model(x)   # (N, m)
        return out[:, 0] if len(self.outputs) == 1 else out

    def derivatives(self, x: torch.Tensor, names) -> Derivatives:
        """Every component's value and the named derivatives at x (N, d); each (N,)."""
        wanted = {name: parse(name, self.outputs, self.axes) for name in names}
        if self.engine == "streams" and all(len(idx) <= 2 for _, idx in wanted.values()):
            table = self._stream_table(x, [idx for _, idx in wanted.values()])
        else:
            self.streamed = self.streamed and self.taps is None
            table = self._autograd_table(x, wanted.values())
        d = Derivatives({c: table[(k, ())] for k, c in enumerate(self.outputs)})
        d.update({name: table[key] for name, key in wanted.items()})
        return d

    # ---- streams -------------------------------------------------------------------------
    def _stream_table(self, x, indices) -> dict:
        first = sorted({i for idx in indices for i in idx})
        second = sorted({idx for idx in indices if len(idx) == 2})
        out = self._streams(x, first, second)                                   # (S, N, m)
        keys = [()] + [(i,) for i in first] + second
        return {(c, key): out[s, :, c] for s, key in enumerate(keys) for c in range(out.shape[2])}

    def _streams(self, x, first, second) -> torch.Tensor:
        if self.compiled and self.taps is None:
            try:
                return self.model.forward_streams(x, first, second, compiled=True)
            except Exception as err:                     # noqa: BLE001 - any compiler failure
                log.warning("torch.compile is not usable here (%s: %s); continuing without it",
                            type(err).__name__, str(err).splitlines()[0] if str(err) else "")
                self.compiled = False
        return self.model.forward_streams(x, first, second, self.taps)

    # ---- nested autograd -----------------------------------------------------------------
    def _autograd_table(self, x, wanted) -> dict:
        x = x.detach().requires_grad_(True)
        out = self.model(x)                                                     # (N, m)
        table = {(c, ()): out[:, c] for c in range(out.shape[1])}
        for c, idx in wanted:
            self._derive(table, x, c, idx)
        return table

    def _derive(self, table: dict, x: torch.Tensor, c: int, idx: tuple[int, ...]) -> torch.Tensor:
        """d^k u_c / dx_idx, from the derivative of order k - 1 (every partial of it kept)."""
        if (c, idx) not in table:
            parent = self._derive(table, x, c, idx[:-1])
            g = torch.autograd.grad(parent.sum(), x, create_graph=True)[0]     # (N, d)
            for i in range(x.shape[1]):
                table.setdefault((c, tuple(sorted(idx[:-1] + (i,)))), g[:, i])
        return table[(c, idx)]
