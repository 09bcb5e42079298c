"""The options the Fourier MLP, the modified MLP and PirateNet share, each one nested node of
their config (validated by the same schema walk as every node, handed the problem's periodic axes
as every node is)::

    embedding: {_target_: pinn_cli.models.options.EmbeddingOptions, features: 32, sigma: 1.0,
                periodic_axes: null, periods: null}
    rwf: {_target_: pinn_cli.models.options.RWFOptions, enabled: false, mu: 1.0, sigma: 0.1}

(``model.embedding.features=64``, ``model.rwf.enabled=true`` on the command line). In Python a
model also takes a plain dict for either (``embedding=dict(features=8)``).
"""
from __future__ import annotations

from typing import Optional    # not `X | None`: the schema checks only typing.Union

from pinn_cli.models.layers import Embedding, dense_factory
from pinn_cli.schema import NonNeg, NonNegInt, Positive


class EmbeddingOptions:
    """The input embedding (:class:`pinn_cli.models.layers.Embedding`).

    Args:
        features: k random Fourier features (0: none; the embedding is then 2 k wide).
        sigma: standard deviation of the Fourier frequencies B.
        periodic_axes: input axes made exactly periodic (null: the problem's; []: none).
        periods: the period P_j of each of those axes (null: the problem's).
    """

    def __init__(self, features: NonNegInt = 0, sigma: Positive = 1.0,
                 periodic_axes: Optional[list[NonNegInt]] = None,
                 periods: Optional[list[Positive]] = None):
        self.features, self.sigma = int(features), float(sigma)
        self.periodic_axes, self.periods = periodic_axes, periods

    def build(self, in_dim: int) -> Embedding:
        return Embedding(in_dim, self.features, self.sigma, self.periodic_axes, self.periods)


class RWFOptions:
    """Random weight factorization of every weight matrix, W = diag(exp(s)) V
    (:class:`pinn_cli.models.layers.Dense`).

    Args:
        enabled: factorise the weights.
        mu: mean of the scales s.
        sigma: standard deviation of the scales s.
    """

    def __init__(self, enabled: bool = False, mu: float = 1.0, sigma: NonNeg = 0.1):
        self.enabled, self.mu, self.sigma = bool(enabled), float(mu), float(sigma)

    def dense(self):
        """Dense(in, out) with these settings bound."""
        return dense_factory(self.enabled, self.mu, self.sigma)


def embedding_options(value, **defaults) -> EmbeddingOptions:
    """EmbeddingOptions from an instance, a dict (over ``defaults``) or None (``defaults``)."""
    return value if isinstance(value, EmbeddingOptions) else EmbeddingOptions(**{**defaults, **(value or {})})


def rwf_options(value) -> RWFOptions:
    """RWFOptions from an instance, a dict or None (no factorization)."""
    return value if isinstance(value, RWFOptions) else RWFOptions(**(value or {}))
