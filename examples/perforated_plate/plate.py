"""Steady heat conduction in a plate with two holes: a domain that is not a box, a Neumann
condition on the holes, and a reference read from a file of mesh nodes. A PDE pinn-cli does not
ship, written by a user in their own folder.

    -k (T_xx + T_yy) = f           in  Omega = [0, 1]^2 minus two discs,
    T = g                          on the outer edge (Dirichlet),
    k dT/dn = q                    on the holes' edges (Neumann; n points out of the plate),

with the manufactured temperature T = sin(pi x) sin(pi y) + x, so that f = 2 pi^2 k sin(pi x)
sin(pi y), g = T and q = k grad T . n. The reference is T at the nodes in ``plate_nodes.txt``
(written by ``make_nodes.py`` as a finite-element package exports a mesh's nodal values).
"""
from __future__ import annotations

from typing import TypedDict

import numpy as np
import torch

from pinn_cli.geometry import Box, Disc
from pinn_cli.pdes import PDE
from pinn_cli.reference.data import ReferenceData, load_reference
from pinn_cli.schema import Count, NonNeg, Positive


class Hole(TypedDict):
    x: float
    y: float
    r: Positive


class PerforatedPlate(PDE):
    """Args:
        k: the conductivity.
        holes: the discs cut out of the unit square ({x, y, r} each).
        n_collocation: interior points; n_outer, n_holes: points on the outer edge and on the holes.
        loss_weights: weights of the terms res, outer, holes.
        reference: the file of nodal temperatures and its columns.
    """

    axes = ("x", "y")
    outputs = ("T",)

    def __init__(self, k: Positive = 1.0, holes: list[Hole] | None = None,
                 n_collocation: Count = 2000, n_outer: Count = 256, n_holes: Count = 256,
                 loss_weights: dict[str, NonNeg] | None = None,
                 reference: ReferenceData | None = None):
        self.k = float(k)
        self.domain = Box([[0.0, 1.0], [0.0, 1.0]], name="outer")
        for h in holes or [{"x": 0.3, "y": 0.6, "r": 0.12}, {"x": 0.68, "y": 0.35, "r": 0.15}]:
            self.domain = self.domain - Disc([h["x"], h["y"]], h["r"], name="holes")
        self.n_collocation, self.n_outer, self.n_holes = n_collocation, n_outer, n_holes
        self.loss_weights = {"res": 1.0, "outer": 1.0, "holes": 1.0, **(loss_weights or {})}
        self.reference_data = reference or {"file": "plate_nodes.txt", "axes": {"x": "x", "y": "y"},
                                            "values": {"T": "T"}}

    def exact(self, x, y):
        lib = torch if isinstance(x, torch.Tensor) else np
        return lib.sin(np.pi * x) * lib.sin(np.pi * y) + x

    def grad_exact(self, x, y):
        lib = torch if isinstance(x, torch.Tensor) else np
        return (np.pi * lib.cos(np.pi * x) * lib.sin(np.pi * y) + 1,
                np.pi * lib.sin(np.pi * x) * lib.cos(np.pi * y))

    def point_counts(self):
        return {"res": self.n_collocation, "outer": self.n_outer, "holes": self.n_holes}

    def sample(self, rng):
        return {"res": self.domain.interior(self.n_collocation, rng),                    # (N, 2)
                "outer": self.domain.boundary(self.n_outer, rng, part="outer").points,  # (N_o, 2)
                "holes": self.domain.boundary(self.n_holes, rng, part="holes").points}  # (N_h, 2)

    def residual(self, net, xy):
        d = net.derivatives(xy, ("T_xx", "T_yy"))
        x, y = xy[:, 0], xy[:, 1]
        f = 2 * np.pi**2 * self.k * torch.sin(np.pi * x) * torch.sin(np.pi * y)
        return -self.k * (d.T_xx + d.T_yy) - f

    def conditions(self, net, points):
        o, h = points["outer"], points["holes"]
        n = self.domain.normal(h)                                  # (N_h, 2) out of the plate
        d = net.derivatives(h, ("T_x", "T_y"))
        gx, gy = self.grad_exact(h[:, 0], h[:, 1])
        flux = self.k * (d.T_x * n[:, 0] + d.T_y * n[:, 1])
        return {"outer": net(o) - self.exact(o[:, 0], o[:, 1]),
                "holes": flux - self.k * (gx * n[:, 0] + gy * n[:, 1])}

    def reference(self, cache):
        return load_reference(self.reference_data, self.axes)
