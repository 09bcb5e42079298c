"""The network seen as a field: named solution components and their derivatives of any order.

A PDE with inputs ``axes`` (single letters, e.g. ``("t", "x")``) and solution components
``outputs`` (e.g. ``("u",)`` or ``("psi", "p")``) names what it needs as ``<component>`` or
``<component>_<letters>``, one letter per differentiation: ``u``, ``u_t``, ``u_xx``,
``psi_xyy``, ``p_x``. Mixed partials are symmetric, so ``psi_xyy`` and ``psi_yxy`` are the same.

Two ways to differentiate, the same derivatives (to rounding):

- nested autograd: ``torch.autograd.grad`` with ``create_graph=True``, any model. A derivative of
  order k is the gradient of one of order k - 1, so each is computed once and shared
  (``psi_xy`` serves ``psi_xyy``); its cost grows roughly geometrically with the order.
- derivative streams (Taylor mode, :mod:`pinn_cli.fields.jet`): the model's own forward run on a
  jet that carries the requested partials and the lower ones they need, any order, one pass;
  every weight matrix in one matmul over the rows (streams x points), the path on which the SNR
  capture takes every batch gradient from the step's own backward (:meth:`Field.capture`).

Engines: ``autograd`` always differentiates by nested autograd; ``streams`` uses the streams for
every request; ``auto`` uses them for requests of order >= ``AUTO_ORDER`` (3), where they are
measured faster than nested autograd on a CPU, and nested autograd below (``scripts/bench_orders.py``).
Whatever the engine, a capture scope uses the streams. A model whose forward the streams cannot
follow (:class:`~pinn_cli.fields.jet.StreamsUnsupported`, or a model with ``supports_streams =
False``) is differentiated by nested autograd, after one logged line.

The streams of many points run in pieces of about ``ROWS`` rows (streams x points, whole SNR
batches under a capture), so that a layer's streams stay in cache: ~15% faster on the cavity's
third derivatives than one pass over 2,560 points (measured here). With ``compiled``, requests on
the streams run under torch.compile outside a capture; if the compiler fails, the field warns
once and continues eagerly.
"""
from __future__ import annotations

import contextlib
import logging

import torch

from pinn_cli.fields.capture import Capture
from pinn_cli.fields.jet import Context, Jet
from pinn_cli.fields.multiindex import index_set

log = logging.getLogger("pinn_cli")

AUTO_ORDER = 3          # engine=auto: streams from this order of derivative up
ROWS = 5120             # rows (streams x points) per piece of a streams forward: cache-sized


def _piece(n: int, streams: int, per_batch: int) -> int:
    """Points per piece of a streams forward over n points: pieces of at most about ``ROWS``
    rows (streams x points), of equal size, so that a layer's streams stay in cache; whole SNR
    batches of ``per_batch`` points."""
    pieces = -(-n * streams // ROWS)
    batches = -(-n // per_batch)
    return per_batch * -(-batches // max(1, min(pieces, batches)))


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
        engine: ``auto``, ``streams`` or ``autograd`` (module docstring).
        compiled: run the streams under torch.compile (falls back to eager if that fails).
        outputs: solution component names in output order.
    """

    def __init__(self, model: torch.nn.Module, axes, engine: str = "auto", compiled: bool = False,
                 outputs=("u",)):
        self.model, self.axes, self.outputs = model, tuple(axes), tuple(outputs)
        if any(len(a) != 1 for a in self.axes):
            raise ValueError(f"axis names must be single letters, got {self.axes}")
        if engine not in ("auto", "streams", "autograd"):
            raise ValueError(f"engine must be auto, streams or autograd, got {engine!r}")
        self.streams_ok = bool(getattr(model, "supports_streams", True))
        if engine == "streams" and not self.streams_ok:
            raise ValueError("engine 'streams' needs a model with derivative streams")
        self.engine, self.compiled = engine, compiled
        self._capture: Capture | None = None
        self._compiled_fns: dict = {}

    @property
    def streamed(self) -> bool:
        """False once the streams could not follow the model (it is differentiated by autograd)."""
        return self.streams_ok

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The solution at x (N, d): (N,) for one component, (N, m) for several."""
        table = self._stream_table(x, [(0, ())]) if self._capture is not None else None
        if table is not None:
            out = table.pop("out")[0]                                           # (N, m)
        else:
            out = self.model(x)                                                 # (N, m)
        return out[:, 0] if len(self.outputs) == 1 else out

    def derivatives(self, x: torch.Tensor, names) -> Derivatives:
        """Every component's value and the named derivatives at x (N, d); each (N,)."""
        wanted = {name: parse(name, self.outputs, self.axes) for name in names}
        order = max((len(idx) for _, idx in wanted.values()), default=0)
        table = None
        if self._capture is not None or self.engine == "streams" or (
                self.engine == "auto" and order >= AUTO_ORDER):
            table = self._stream_table(x, wanted.values())
        if table is None:
            table = self._autograd_table(x, wanted.values())
        d = Derivatives({c: table[(k, ())] for k, c in enumerate(self.outputs)})
        d.update({name: table[key] for name, key in wanted.items()})
        return d

    @contextlib.contextmanager
    def capture(self, per_batch: int):
        """A scope whose field calls run on the streams with every weight matrix's batch shares
        recorded (:class:`pinn_cli.fields.capture.Capture`); after the scope's backward,
        ``cap.shares()`` gives them (None if incomplete). Scopes do not nest."""
        if self._capture is not None:
            raise RuntimeError("a capture is already active on this field")
        self._capture = cap = Capture(self.model.weight_matrices(), per_batch)
        try:
            yield cap
        finally:
            self._capture = None

    # ---- streams -------------------------------------------------------------------------
    def _stream_table(self, x, keys) -> dict | None:
        """{(component, alpha): (N,)} on the streams, plus "out": the (S, N, m) streams; None
        (after one logged line) when the streams cannot follow the model."""
        if not self.streams_ok:
            if self._capture is not None:
                self._capture.spoil("the model is differentiated by nested autograd")
            return None
        index = index_set(frozenset(alpha for _, alpha in keys))
        try:
            out = self._run_streams(x, index)                                   # (S, N, m)
        except torch.OutOfMemoryError:
            raise                                   # not a fallback: autograd needs more memory
        except Exception as err:                   # noqa: BLE001 - any op the jets cannot follow
            log.warning("derivative streams cannot follow %s (%s: %s); nested autograd "
                        "differentiates it", type(self.model).__name__, type(err).__name__,
                        str(err).splitlines()[0] if str(err) else "")
            self.streams_ok = False
            if self._capture is not None:
                self._capture.spoil("the model is differentiated by nested autograd")
            return None
        columns = [stream.unbind(0) for stream in out.permute(0, 2, 1).unbind(0)]   # S x m x (N,)
        table = {(c, alpha): columns[s][c] for s, alpha in enumerate(index.alphas)
                 for c in range(out.shape[2])}
        table["out"] = out
        return table

    def _run_streams(self, x, index) -> torch.Tensor:
        if self.compiled and self._capture is None:
            try:
                return self._compiled(index)(x)
            except torch.OutOfMemoryError:
                raise
            except Exception as err:                   # noqa: BLE001 - any compiler failure
                log.warning("torch.compile is not usable here (%s: %s); continuing without it",
                            type(err).__name__, str(err).splitlines()[0] if str(err) else "")
                self.compiled = False
        cap = self._capture
        n = _piece(len(x), len(index), cap.per_batch if cap else 1)
        if n >= len(x):
            return self._jet_forward(x, index, cap)
        pieces = []
        try:
            for a in range(0, len(x), n):
                if cap is not None:
                    cap.first_batch = a // cap.per_batch       # where this piece's shares go
                pieces.append(self._jet_forward(x[a:a + n], index, cap))
        finally:
            if cap is not None:
                cap.first_batch = 0
        return torch.cat(pieces, 1)                                            # (S, N, m)

    def _jet_forward(self, x, index, capture=None) -> torch.Tensor:
        out = self.model(Jet.input(x, Context(index, capture)))
        if not isinstance(out, Jet):
            raise TypeError(f"the model returned {type(out).__name__}, not its derivative streams")
        return out.materialized()                                               # (S, N, m)

    def _compiled(self, index):
        if index not in self._compiled_fns:
            self._compiled_fns[index] = torch.compile(lambda x: self._jet_forward(x, index),
                                                      dynamic=False)
        return self._compiled_fns[index]

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
