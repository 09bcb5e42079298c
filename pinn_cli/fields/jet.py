"""Jets: a tensor together with its partial derivatives, carried through a model's own forward.

A :class:`Jet` stands for a tensor T of logical shape (N, ...) (N points) and holds, stacked in
one tensor ``data`` (S, N, ...), T and its partial derivatives with respect to the input
coordinates, one stream per multi-index of an :class:`~pinn_cli.fields.multiindex.IndexSet`
(stream 0 is T itself). It takes part in PyTorch's ``__torch_function__`` protocol, so a model's
ordinary ``forward`` runs on it unchanged and propagates every stream (Taylor mode):

- linear maps act on every stream alike, in one matmul over the rows (streams x points):
  ``F.linear``, ``@`` with a matrix; the bias and any added constant enter stream 0 only (kept
  pending until the next op, so that an activation adds the bias in its own pass);
- scaling by constants (numbers, tensors without streams: RWF scales, PirateNet's alpha),
  sums, differences, indexing and reshaping along the feature axes, ``cat``/``stack``/``unbind``;
- elementwise functions by Faa di Bruno (:class:`~pinn_cli.fields.streams.ChainRule`): ``tanh``,
  ``sin``, ``cos``, ``exp``, ``sigmoid``, ``gelu`` (exact), powers, ``square``;
- products of two jets by Leibniz (:class:`~pinn_cli.fields.streams.Product`): the gates of the
  modified MLP and PirateNet, and divisions as products with a power -1.

Anything else (an op on the points axis, an unknown function) raises :class:`StreamsUnsupported`,
and the field differentiates that model by nested autograd instead. Streams known to be zero (the
input's second derivatives, and what they leave zero after a linear map) are tracked, and the terms
they would feed are skipped.

With a capture active (:class:`pinn_cli.fields.capture.Capture`), every linear map whose matrix is
one of the model's weight matrices goes through the capture, whose backward yields the SNR batch
shares of that matrix.
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from pinn_cli.fields import univariate
from pinn_cli.fields.linear import linear
from pinn_cli.fields.multiindex import IndexSet
from pinn_cli.fields.streams import ChainRule, Product


class StreamsUnsupported(Exception):
    """A model does an operation that derivative streams cannot follow."""


class Context:
    """What the jets of one forward share: their index set and the capture (or None)."""

    def __init__(self, index: IndexSet, capture=None):
        self.index, self.capture = index, capture


class Jet:
    """Args:
        data: (S, N, ...) the streams.
        ctx: the forward's :class:`Context`.
        zeros: streams known to be identically zero.
        offset: a constant (number or tensor broadcastable to one stream) not yet added to
            stream 0; ``None`` when there is none.
    """

    def __init__(self, data: torch.Tensor, ctx: Context, zeros: frozenset = frozenset(),
                 offset=None):
        self.data, self.ctx, self.zeros, self.offset = data, ctx, frozenset(zeros), offset

    @classmethod
    def input(cls, x: torch.Tensor, ctx: Context) -> Jet:
        """The input points x (N, d) as a jet: dx / dx_i = e_i, higher derivatives 0."""
        n, d = x.shape
        data = x.new_zeros(len(ctx.index), n, d)                                 # (S, N, d)
        data[0] = x
        for i in range(d):
            if (i,) in ctx.index.index:
                data[ctx.index.index[(i,)], :, i] = 1.0
        return cls(data, ctx, ctx.index.input_zeros())

    # ---- tensor-like attributes ----------------------------------------------------------
    @property
    def shape(self) -> torch.Size:
        return self.data.shape[1:]

    @property
    def ndim(self) -> int:
        return self.data.ndim - 1

    def dim(self) -> int:
        return self.ndim

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return self.data.device

    def materialized(self) -> torch.Tensor:
        """The streams (S, N, ...) with the pending offset added to stream 0."""
        if self.offset is None:
            return self.data
        return torch.cat([(self.data[0] + self.offset)[None], self.data[1:]])

    def _plain(self) -> Jet:
        return self if self.offset is None else Jet(self.materialized(), self.ctx, self.zeros - {0})

    # ---- the protocol ----------------------------------------------------------------------
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        handler = HANDLERS.get(func)
        if handler is None:
            raise StreamsUnsupported(f"{getattr(func, '__name__', func)} on derivative streams")
        ctx = next(a.ctx for a in _flat(args) if isinstance(a, Jet))
        if ctx.capture is not None and handler not in (_linear, _matmul):
            for a in _flat([*args, *kwargs.values()]):
                if isinstance(a, torch.Tensor) and ctx.capture.tracks(a):
                    ctx.capture.spoil("a weight matrix enters the streams other than by a linear map")
        return handler(*args, **kwargs)

    def __add__(self, other):
        return _add(self, other)

    __radd__ = __add__

    def __sub__(self, other):
        return _add(self, other, -1)

    def __rsub__(self, other):
        return _add(_scale(self, -1), other)

    def __neg__(self):
        return _scale(self, -1)

    def __mul__(self, other):
        return _mul(self, other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return _div(self, other)

    def __rtruediv__(self, other):
        return _mul(_elementwise(self, univariate.power(-1.0)), other)

    def __pow__(self, p):
        return _pow(self, p)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __getitem__(self, idx):
        idx = idx if isinstance(idx, tuple) else (idx,)
        if not idx or not (idx[0] is Ellipsis or (isinstance(idx[0], slice) and idx[0] == slice(None))):
            raise StreamsUnsupported("indexing along the points axis")
        j = self._plain()
        return Jet(j.data[(slice(None), *idx)], j.ctx, j.zeros)

    def unbind(self, dim=0):
        return _unbind(self, dim)

    def unsqueeze(self, dim):
        return _reshaped(self, lambda d: d.unsqueeze(_dim(dim, self.ndim + 1) + 1))

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if shape[0] not in (-1, self.shape[0]):
            raise StreamsUnsupported("a reshape across the points axis")
        return _reshaped(self, lambda d: d.reshape(len(d), self.shape[0], *shape[1:]))

    view = reshape

    def tanh(self):
        return _elementwise(self, univariate.tanh)

    def sin(self):
        return _elementwise(self, univariate.sin)

    def cos(self):
        return _elementwise(self, univariate.cos)

    def exp(self):
        return _elementwise(self, univariate.exp)

    def sigmoid(self):
        return _elementwise(self, univariate.sigmoid)

    def square(self):
        return _pow(self, 2)

    def mul(self, other):
        return _mul(self, other)

    def add(self, other, alpha=1):
        return _add(self, other, alpha)

    def sub(self, other, alpha=1):
        return _add(self, other, -alpha)

    def pow(self, p):
        return _pow(self, p)


# ---- the operations -------------------------------------------------------------------------
def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from a
        else:
            yield a


def _dim(dim: int, ndim: int) -> int:
    """A logical dim, refused on the points axis (0): the rows must stay independent points."""
    d = dim + ndim if dim < 0 else dim
    if d <= 0:
        raise StreamsUnsupported("an operation along the points axis")
    return d


def _is_const(x) -> bool:
    return isinstance(x, (numbers.Number, torch.Tensor)) and not isinstance(x, bool)


def _aligned(data: torch.Tensor, ndim: int) -> torch.Tensor:
    """(S, *shape) -> (S, 1, ..., *shape) with ``ndim`` logical dims (for broadcasting)."""
    extra = ndim - (data.ndim - 1)
    return data if extra <= 0 else data.reshape(data.shape[:1] + (1,) * extra + data.shape[1:])


def _const_jet(c, like: Jet) -> Jet:
    """A constant as a jet: the value, every derivative zero."""
    c = torch.as_tensor(c, dtype=like.dtype, device=like.device)
    data = torch.zeros((len(like.ctx.index),) + c.shape, dtype=c.dtype, device=c.device)
    data[0] = c
    return Jet(data, like.ctx, frozenset(range(1, len(like.ctx.index))))


def _reshaped(j: Jet, fn) -> Jet:
    j = j._plain()
    return Jet(fn(j.data), j.ctx, j.zeros)


def _constant(j: Jet, c) -> None:
    """A weight matrix used as a constant (not through a linear map) spoils a capture."""
    if j.ctx.capture is not None and isinstance(c, torch.Tensor) and j.ctx.capture.tracks(c):
        j.ctx.capture.spoil("a weight matrix enters the streams other than by a linear map")


def _scale(j: Jet, c) -> Jet:
    """c j for a constant c (number or tensor broadcastable against j's logical shape)."""
    _constant(j, c)
    if isinstance(c, torch.Tensor) and c.ndim > j.ndim:
        j = Jet(_aligned(j._plain().data, c.ndim), j.ctx, j.zeros)
    offset = None if j.offset is None else j.offset * c
    return Jet(j.data * c, j.ctx, j.zeros, offset)


def _add(a, b, alpha=1):
    """a + alpha b; a constant joins the pending offset when it does not broadcast j wider."""
    if not isinstance(a, Jet):
        a, b, alpha = b, a, alpha
        if alpha != 1:                                   # c + alpha j  ==  alpha j + c
            return _add(_scale(a, alpha), b)
    if not isinstance(b, Jet):
        if not _is_const(b):
            raise StreamsUnsupported(f"adding {type(b).__name__} to derivative streams")
        _constant(a, b)
        b = b * alpha if alpha != 1 else b
        shape = torch.broadcast_shapes(a.shape, getattr(b, "shape", ()))
        if shape != a.shape:
            return _add(a, _const_jet(b, a))
        return Jet(a.data, a.ctx, a.zeros, b if a.offset is None else a.offset + b)
    if alpha != 1:
        b = _scale(b, alpha)
    ndim = max(a.ndim, b.ndim)
    offset = a.offset if b.offset is None else (b.offset if a.offset is None else a.offset + b.offset)
    return Jet(_aligned(a.data, ndim) + _aligned(b.data, ndim), a.ctx, a.zeros & b.zeros, offset)


def _mul(a, b):
    if not isinstance(a, Jet):
        a, b = b, a
    if not isinstance(b, Jet):
        if not _is_const(b):
            raise StreamsUnsupported(f"multiplying derivative streams by {type(b).__name__}")
        return _scale(a, b)
    a, b = a._plain(), b._plain()
    index = a.ctx.index
    terms = index.product_terms(a.zeros, b.zeros)
    zeros = frozenset(range(len(index))) - {s for s, _ in terms}
    if a.shape == b.shape:
        return Jet(Product.apply(a.data, b.data, terms), a.ctx, zeros)
    ndim, table = max(a.ndim, b.ndim), dict(terms)       # broadcasting: plain ops
    fa, gb = _aligned(a.data, ndim), _aligned(b.data, ndim)
    shape = torch.broadcast_shapes(a.shape, b.shape)
    rows = [sum(c * fa[sf] * gb[sg] for c, sf, sg in table[s]).expand(shape) if s in table
            else fa.new_zeros(shape) for s in range(len(index))]
    return Jet(torch.stack(rows), a.ctx, zeros)


def _div(a, b):
    if isinstance(b, Jet):
        return _mul(a, _elementwise(b, univariate.power(-1.0)))
    return _scale(a, 1 / b if isinstance(b, numbers.Number) else torch.reciprocal(b))


def _pow(j, p, *_):
    if not isinstance(p, numbers.Number) or isinstance(j, numbers.Number):
        raise StreamsUnsupported("a power with a non-constant exponent")
    return _elementwise(j, univariate.power(float(p)))


def _elementwise(j: Jet, derivatives) -> Jet:
    """sigma(j) by Faa di Bruno; the pending offset is added inside (a layer's bias)."""
    index = j.ctx.index
    terms = index.chain_terms(j.zeros)
    b = j.offset
    if b is not None and not isinstance(b, torch.Tensor):
        b = torch.as_tensor(b, dtype=j.dtype, device=j.device)
    h = ChainRule.apply(j.data, b, derivatives, terms, j.zeros)
    return Jet(h, j.ctx, index.zeros_after(terms, len(index)))


def _linear(x, weight, bias=None):
    """F.linear(jet, W, b): one matmul over every stream; b pending on stream 0."""
    if not isinstance(x, Jet) or isinstance(weight, Jet) or isinstance(bias, Jet):
        raise StreamsUnsupported("a linear map with derivative streams in its weights")
    x = x._plain()
    if x.ndim != 2:
        raise StreamsUnsupported("a linear map of a tensor with more than 2 dimensions")
    z = linear(x.data, weight, x.zeros, x.ctx.capture)                         # (S, N, out)
    return Jet(z, x.ctx, x.zeros, bias)


def _matmul(a, b):
    """jet @ M for a constant matrix M; M = W.T of a weight matrix W is the linear map W."""
    if not isinstance(a, Jet) or isinstance(b, Jet) or b.ndim != 2:
        raise StreamsUnsupported("a matmul other than jet @ matrix")
    base, cap = b._base, a.ctx.capture
    if (base is not None and base.ndim == 2 and b.shape == base.shape[::-1]
            and b.stride() == base.stride()[::-1] and b.storage_offset() == base.storage_offset()):
        return _linear(a, base)                          # a @ W.T
    if cap is not None and cap.tracks(b):
        cap.spoil("a weight matrix used as x @ W instead of x @ W.T")
    return _linear(a, b.T)


def _cat(tensors, dim=0, *, out=None):
    jets = [t for t in tensors if isinstance(t, Jet)]
    d = _dim(dim, jets[0].ndim)
    parts = [t._plain() if isinstance(t, Jet) else _const_jet(t, jets[0]) for t in tensors]
    zeros = frozenset.intersection(*(p.zeros for p in parts))
    return Jet(torch.cat([p.data for p in parts], d + 1), jets[0].ctx, zeros)


def _stack(tensors, dim=0, *, out=None):
    jets = [t for t in tensors if isinstance(t, Jet)]
    d = _dim(dim, jets[0].ndim + 1)
    parts = [t._plain() if isinstance(t, Jet) else _const_jet(t, jets[0]) for t in tensors]
    zeros = frozenset.intersection(*(p.zeros for p in parts))
    return Jet(torch.stack([p.data for p in parts], d + 1), jets[0].ctx, zeros)


def _unbind(j: Jet, dim=0):
    j = j._plain()
    return tuple(Jet(t, j.ctx, j.zeros) for t in j.data.unbind(_dim(dim, j.ndim) + 1))


def _gelu(j: Jet, approximate: str = "none"):
    if approximate != "none":
        raise StreamsUnsupported(f"gelu(approximate={approximate!r})")
    return _elementwise(j, univariate.gelu)


def _sub(a, b, *, alpha=1):
    if isinstance(a, Jet):
        return _add(a, b, -alpha)
    return _add(_scale(b, -alpha), a)


def _rsub(a, b, *, alpha=1):
    return _sub(b, a, alpha=alpha)


def _unary(name):
    fn = univariate.BY_NAME[name]
    return lambda j: _elementwise(j, fn)


HANDLERS = {}
for _fns, _handler in [
    ((torch.tanh, torch.Tensor.tanh, F.tanh), _unary("tanh")),
    ((torch.sin, torch.Tensor.sin), _unary("sin")),
    ((torch.cos, torch.Tensor.cos), _unary("cos")),
    ((torch.exp, torch.Tensor.exp), _unary("exp")),
    ((torch.sigmoid, torch.Tensor.sigmoid, F.sigmoid), _unary("sigmoid")),
    ((F.gelu,), _gelu),
    ((torch.square, torch.Tensor.square), lambda j: _pow(j, 2)),
    ((torch.pow, torch.Tensor.pow, torch.Tensor.__pow__), _pow),
    ((F.linear,), _linear),
    ((torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__), _matmul),
    ((torch.add, torch.Tensor.add, torch.Tensor.__add__, torch.Tensor.__radd__),
     lambda a, b, *, alpha=1: _add(a, b, alpha)),
    ((torch.sub, torch.Tensor.sub, torch.Tensor.__sub__), _sub),
    ((torch.Tensor.__rsub__, torch.rsub), _rsub),
    ((torch.mul, torch.Tensor.mul, torch.Tensor.__mul__, torch.Tensor.__rmul__), _mul),
    ((torch.div, torch.Tensor.div, torch.Tensor.__truediv__), lambda a, b: _div(a, b)),
    ((torch.Tensor.__rtruediv__,), lambda a, b: Jet.__rtruediv__(a, b)),
    ((torch.neg, torch.Tensor.neg, torch.Tensor.__neg__), lambda j: _scale(j, -1)),
    ((torch.cat, torch.concat), _cat),
    ((torch.stack,), _stack),
    ((torch.unbind, torch.Tensor.unbind), _unbind),
    ((torch.unsqueeze, torch.Tensor.unsqueeze), lambda j, d: j.unsqueeze(d)),
]:
    for _fn in _fns:
        HANDLERS[_fn] = _handler

