"""Steady lid-driven cavity flow, the paper's third problem.

    u = psi_y,   v = -psi_x                         (continuity u_x + v_y = 0 holds exactly)
    u u_x + v u_y + p_x - (u_xx + u_yy) / Re = 0
    u v_x + v v_y + p_y - (v_xx + v_yy) / Re = 0     (x, y) in [0, 1]^2

The network outputs (psi, p). Through psi, with u_x = psi_xy, u_y = psi_yy, v_x = -psi_xx,
v_y = -psi_xy, u_xx + u_yy = psi_xxy + psi_yyy and v_xx + v_yy = -(psi_xxx + psi_xyy):

    r_1 = psi_y psi_xy - psi_x psi_yy + p_x - (psi_xxy + psi_yyy) / Re
    r_2 = psi_x psi_xy - psi_y psi_xx + p_y + (psi_xxx + psi_xyy) / Re

``formulation: velocity_pressure`` has the network output (u, v, p) instead, with three residuals
of second derivatives only (continuity no longer holds by construction):

    r_1 = u u_x + v u_y + p_x - (u_xx + u_yy) / Re
    r_2 = u v_x + v v_y + p_y - (v_xx + v_yy) / Re
    r_3 = u_x + v_y

Walls: u = 1, v = 0 on the lid y = 1; u = v = 0 on x = 0, x = 1 and y = 0. The ``bc`` term is
(u - u_wall, v - v_wall) at the wall points, (N_b, 2).

Corners: the two lid corners (0, 1) and (1, 1) belong to the side walls, so u = 0 there and the
lid speed 1 holds only strictly between them. The side-wall points are evenly spaced and include
both ends of each side (all four corners, with u = v = 0); the lid and bottom points are the
midpoints of n_boundary equal cells, so they never reach a corner. This is the convention of the
reference solver (:mod:`pinn_cli.reference.cavity`: its corner nodes have u = v = 0), so the
training data, the reference and the error all describe the same flow, with the jump of u from 1
to 0 at the lid corners kept rather than smoothed: a smoothed lid (say 1 - (2x - 1)^16) would
change the problem and need another reference.

Reference: the stream function-vorticity Newton solver on (n+1) x (n+1) nodes. The observables are
the velocity magnitude ("speed", the paper's error and the headline), then u and v. The pressure
is defined up to a constant and is singular (like 1/r) at the lid corners, so it is left out of
the errors.
"""
from __future__ import annotations

from typing import Annotated, Literal, TypedDict

import numpy as np
import torch

from pinn_cli.pdes.base import PDE, Reference
from pinn_cli.schema import Count, NonNeg, Positive, Range
from pinn_cli.reference.cavity import solve_cavity

# requested in this order, the nested-autograd engine needs two gradients for the four third
# derivatives: psi_xxx fills psi_xxy, psi_yyy fills psi_xyy (pinn_cli/fields/field.py)
DERIVATIVES = ("psi_x", "psi_y", "p_x", "p_y", "psi_xx", "psi_xy", "psi_yy",
               "psi_xxx", "psi_yyy", "psi_xxy", "psi_xyy")
# the velocity-pressure form: second derivatives only
VP_DERIVATIVES = ("u_x", "u_y", "v_x", "v_y", "p_x", "p_y", "u_xx", "u_yy", "v_xx", "v_yy")
Formulation = Literal["stream_function", "velocity_pressure"]


class CavityReference(TypedDict, total=False):
    n: Annotated[int, Range(4, 4096)]          # cells per side of the reference grid


class LidDrivenCavity(PDE):
    """Args:
        re: Reynolds number (paper 1000).
        n_collocation: interior points, Latin hypercube in [0, 1]^2 (paper 25,600).
        n_boundary: points per wall (four walls); see the module notes for the corners.
        loss_weights: weights of ``res`` and ``bc``.
        reference: ``{"n": cells per side}`` of the reference grid ((n+1)^2 nodes).
        formulation: stream_function (the paper's: outputs psi, p) or velocity_pressure
            (outputs u, v, p; momentum and continuity residuals).
    """

    coefficients = ("re",)  # what strategy=continuation may move

    axes = ("x", "y")
    outputs = ("psi", "p")
    joint_observables = ("u", "v")     # the joint error is the velocity's (the speed repeats it)

    def __init__(self, re: Positive = 1000.0, n_collocation: Count = 25600,
                 n_boundary: Count = 256, loss_weights: dict[str, NonNeg] | None = None,
                 reference: CavityReference | None = None,
                 formulation: Formulation = "stream_function"):
        self.re, self.formulation = float(re), formulation
        if formulation == "velocity_pressure":
            self.outputs = ("u", "v", "p")
        self.bounds = np.array([[0.0, 1.0], [0.0, 1.0]])
        self.n_collocation, self.n_boundary = n_collocation, n_boundary
        self.loss_weights = dict(loss_weights or {"res": 1.0, "bc": 1.0})
        self.reference_params = {"n": 256, **(reference or {})}

    def point_counts(self):
        return {"res": self.n_collocation, "bc": 4 * self.n_boundary}

    def walls(self) -> tuple[np.ndarray, np.ndarray]:
        """The wall points (4 n_b, 2) and their velocities (4 n_b, 2): left, right, bottom, lid."""
        n = self.n_boundary
        ends = np.linspace(0.0, 1.0, n)                          # side walls: corners included
        mids = (np.arange(n) + 0.5) / n                          # bottom and lid: no corners
        zero, one = np.zeros(n), np.ones(n)
        pts = np.concatenate([np.stack(p, axis=1) for p in
                              ((zero, ends), (one, ends), (mids, zero), (mids, one))])
        vel = np.zeros_like(pts)
        vel[3 * n:, 0] = 1.0                                     # the lid: u = 1
        return pts, vel

    def sample(self, rng):
        return {"res": self.latin_hypercube(self.n_collocation, rng),              # (N, 2)
                "bc": self.walls()[0]}                                             # (4 N_b, 2)

    def residual(self, net, xy):
        if self.formulation == "velocity_pressure":
            d = net.derivatives(xy, VP_DERIVATIVES)
            r1 = d.u * d.u_x + d.v * d.u_y + d.p_x - (d.u_xx + d.u_yy) / self.re
            r2 = d.u * d.v_x + d.v * d.v_y + d.p_y - (d.v_xx + d.v_yy) / self.re
            return torch.stack([r1, r2, d.u_x + d.v_y], dim=1)                     # (N, 3)
        d = net.derivatives(xy, DERIVATIVES)
        u, v = d.psi_y, -d.psi_x
        r1 = u * d.psi_xy + v * d.psi_yy + d.p_x - (d.psi_xxy + d.psi_yyy) / self.re
        r2 = -u * d.psi_xx - v * d.psi_xy + d.p_y + (d.psi_xxx + d.psi_xyy) / self.re
        return torch.stack([r1, r2], dim=1)                                        # (N, 2)

    def wall_velocity(self, xy: torch.Tensor) -> torch.Tensor:
        """(u, v) prescribed at wall points xy (N, 2): (1, 0) on the lid strictly between the
        corners, (0, 0) elsewhere; (N, 2)."""
        lid = (xy[:, 1] == 1.0) & (xy[:, 0] > 0.0) & (xy[:, 0] < 1.0)
        return torch.stack([lid.to(xy.dtype), torch.zeros_like(xy[:, 0])], dim=1)

    def velocity(self, net, xy: torch.Tensor) -> torch.Tensor:
        """(u, v) at xy (N, 2): (psi_y, -psi_x), or the outputs u, v; (N, 2), differentiable."""
        if self.formulation == "velocity_pressure":
            return net(xy)[:, :2]
        d = net.derivatives(xy, ("psi_x", "psi_y"))
        return torch.stack([d.psi_y, -d.psi_x], dim=1)

    def conditions(self, net, points):
        xy = points["bc"]
        return {"bc": self.velocity(net, xy) - self.wall_velocity(xy)}            # (N_b, 2)

    def solve_reference(self, cache) -> dict[str, np.ndarray]:
        """The solver's fields (``x``, ``y``, ``u``, ``v``, ``p``, ``psi``, ...) through the cache."""
        return cache.get("cavity", {"re": self.re, "n": int(self.reference_params["n"])},
                         solve_cavity)

    def reference(self, cache):
        sol = self.solve_reference(cache)
        speed = np.hypot(sol["u"], sol["v"])
        return Reference(axes=[sol["x"], sol["y"]],
                         values={"speed": speed, "u": sol["u"], "v": sol["v"]})

    def observables(self, net, x):
        keep = torch.is_grad_enabled()          # objective=regression differentiates them
        with torch.enable_grad():
            uv = self.velocity(net, x)                                             # (M, 2)
        uv = uv if keep else uv.detach()
        return {"speed": torch.linalg.vector_norm(uv, dim=1), "u": uv[:, 0], "v": uv[:, 1]}
