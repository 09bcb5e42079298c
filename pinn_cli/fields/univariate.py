"""Derivatives of the elementwise functions a jet can pass through: s_m = sigma^(m)(z), m = 0..k.

Each function returns the list [s_0, ..., s_k] of tensors shaped like z, by recurrences that use
only sigma's own values:

    tanh:     s_1 = 1 - s_0^2,        s_{m+1} = -sum_{j=0}^{m} C(m, j) s_j s_{m-j}       (m >= 1;
              closed forms in u = s_0^2 up to m = 4)
    sigmoid:  s_1 = s_0 - s_0^2,      s_{m+1} = s_m - sum_{j=0}^{m} C(m, j) s_j s_{m-j}    (m >= 1)
              (the derivatives of sigma' = 1 - sigma^2 and sigma' = sigma - sigma^2 by Leibniz)
    sin, cos: s_m = sin(z + m pi / 2), cos(z + m pi / 2): a cycle of sin, cos, -sin, -cos
    exp:      s_m = exp(z)
    gelu:     sigma = z Phi(z) (PyTorch's exact gelu), phi the standard normal density,
              s_1 = Phi + z phi,   s_m = (-1)^(m-1) phi (He_m - He_{m-2})  (m >= 2),
              He the probabilists' Hermite polynomials, He_{m+1} = z He_m - m He_{m-1}
    power p:  s_m = p (p - 1) ... (p - m + 1) z^(p - m)

A derivative that vanishes identically (z^2's third) is returned as None, so that its terms cost
nothing.
"""
from __future__ import annotations

import math

import torch


def _sum_of_products(s: list[torch.Tensor], m: int) -> torch.Tensor:
    """sum_{j=0}^{m} C(m, j) s_j s_{m-j}, pairing j with m - j."""
    total = None
    for j in range((m + 1) // 2):
        term = torch.mul(s[j], s[m - j]).mul_(2 * math.comb(m, j))
        total = term if total is None else total.add_(term)
    if m % 2 == 0:
        half = torch.mul(s[m // 2], s[m // 2])
        half = half.mul_(math.comb(m, m // 2)) if m else half
        total = half if total is None else total.add_(half)
    return total


def tanh(z: torch.Tensor, k: int, out: torch.Tensor | None = None) -> list:
    """With u = s_0^2, up to fourth order in closed form (fewer passes over memory than the
    recurrence, which they equal): s_1 = 1 - u, s_2 = -2 s_0 s_1, s_3 = s_1 (6 u - 2),
    s_4 = s_2 (12 u - 8)."""
    s = [torch.tanh(z, out=out)]
    if k >= 1:
        u = torch.mul(s[0], s[0])
        s.append(torch.rsub(u, 1))
    if k >= 2:
        s.append(torch.mul(s[0], s[1]).mul_(-2))
    if k >= 3:
        s.append(torch.mul(u, 6).sub_(2).mul_(s[1]))
    if k >= 4:
        s.append(torch.mul(u, 12).sub_(8).mul_(s[2]))
    for m in range(4, k):
        s.append(_sum_of_products(s, m).neg_())
    return s


def sigmoid(z: torch.Tensor, k: int, out: torch.Tensor | None = None) -> list:
    s = [torch.sigmoid(z, out=out)]
    for m in range(k):
        s.append(torch.sub(s[m], _sum_of_products(s, m)))
    return s


def sin(z: torch.Tensor, k: int, out: torch.Tensor | None = None) -> list:
    c = torch.cos(z) if k else None                      # before z (it may be ``out``) changes
    s0 = torch.sin(z, out=out)
    cycle = [s0, c, *((-s0, -c) if k >= 2 else ())]
    return [cycle[m % 4] for m in range(k + 1)]


def cos(z: torch.Tensor, k: int, out: torch.Tensor | None = None) -> list:
    s = torch.sin(z) if k else None
    c0 = torch.cos(z, out=out)
    cycle = [c0, *((-s,) if k else ()), *((-c0, s) if k >= 2 else ())]
    return [cycle[m % 4] for m in range(k + 1)]


def exp(z: torch.Tensor, k: int, out: torch.Tensor | None = None) -> list:
    e = torch.exp(z, out=out)
    return [e] * (k + 1)


def gelu(z: torch.Tensor, k: int, out: torch.Tensor | None = None) -> list:
    phi = torch.exp(-0.5 * z * z).mul_(1 / math.sqrt(2 * math.pi))
    big_phi = torch.special.ndtr(z)
    he = [torch.ones_like(z), z.clone()]                  # He_0, He_1 (z may be ``out``)
    for m in range(1, k):
        he.append(he[1] * he[m] - m * he[m - 1])
    s = [None]
    if k >= 1:
        s.append(big_phi + he[1] * phi)
    for m in range(2, k + 1):
        s.append((he[m] - he[m - 2]).mul_(phi).mul_((-1) ** (m - 1)))
    s[0] = torch.mul(he[1], big_phi, out=out)
    return s


def power(p: float):
    """z -> z^p and its derivatives; a non-negative integer p ends in zeros (None)."""

    def derivatives(z: torch.Tensor, k: int, out: torch.Tensor | None = None) -> list:
        s, coef = [], 1.0
        for m in range(k + 1):
            if coef == 0.0:
                s.append(None)
            elif p - m == 0:
                s.append(torch.full_like(z, coef))
            else:
                s.append(torch.pow(z, p - m).mul_(coef))
            coef *= p - m
        if out is not None:
            out.copy_(s[0])
            s[0] = out
        return s

    return derivatives


BY_NAME = {"tanh": tanh, "sigmoid": sigmoid, "sin": sin, "cos": cos, "exp": exp, "gelu": gelu}
