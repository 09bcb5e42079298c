"""The derivative engine: a network seen as a field of named solution components and their
partial derivatives of any order (``u``, ``u_t``, ``psi_xyy``).

:class:`Field` wraps a network (:mod:`pinn_cli.models`) and computes the requested partials either
by nested autograd or by derivative streams (Taylor mode: the network's own forward run on a jet,
:mod:`pinn_cli.fields.jet`, with elementwise derivatives from :mod:`pinn_cli.fields.univariate`,
the chain and product rules over stacked streams from :mod:`pinn_cli.fields.streams`, the
multi-indices from :mod:`pinn_cli.fields.multiindex`); :class:`Derivatives` holds what one request
returns. On the streams every weight matrix enters one matmul (:mod:`pinn_cli.fields.linear`), so
a capture scope (:mod:`pinn_cli.fields.capture`) takes each batch's share of the weight gradient
from the step's own backward, for the batch-gradient SNR.

The engine knows a network only by its ``forward``, ``weight_matrices()`` and
``supports_streams``; :mod:`pinn_cli.models` does not import it.
"""
from pinn_cli.fields.field import Derivatives, Field

__all__ = ["Field", "Derivatives"]
