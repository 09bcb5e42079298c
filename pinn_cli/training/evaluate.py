"""Errors against the reference solution.

For each observable o the reference holds (the PDE's ``observables``: the solution components by
default, e.g. the velocity magnitude for a flow),

    rel_l2(o) = ||o_theta - o_ref||_2 / ||o_ref||_2     over the reference's points,

the first observable's being the run's headline error (``rel_l2`` in the run file). With several
observables, the joint error over all of them (the figure benchmark tables report),

    joint = sqrt(sum_o ||o_theta - o_ref||^2) / sqrt(sum_o ||o_ref||^2)

over the PDE's ``joint_observables`` (default: all; the cavity: u and v, not the speed), is kept as ``Evaluator.joint`` after each evaluation and reported at the end of a run. The points are
the grid's nodes for a reference on a grid, the given nodes for a scattered one (mesh nodes,
sensors): the same sum over points either way, so a grid and the same points given as scattered
nodes give the same error.
"""
from __future__ import annotations

import torch


class Evaluator:
    """Args:
        pde: the problem; ``pde.observables(field, x)`` computes what the reference holds.
        field: the network as a field.
        reference: a :class:`pinn_cli.pdes.base.Reference` (on a grid or at scattered nodes).
        tensor: numpy -> tensor on the run's device and dtype.
        chunk: points per evaluation pass.
    """

    def __init__(self, pde, field, reference, tensor, chunk: int = 1 << 16):
        self.pde, self.field, self.chunk = pde, field, chunk
        values = reference.flat(pde.outputs[0])
        self.names = list(values)
        self.axes = list(reference.axes) if reference.is_grid else None     # the grid's axes
        self.points = tensor(reference.points())                                   # (M, d)
        self.values = {k: tensor(v) for k, v in values.items()}                    # (M,) each
        self.joint: torch.Tensor | None = None          # the last evaluation's joint error

    @torch.no_grad()
    def rel_l2(self) -> dict[str, torch.Tensor]:
        """{observable: () relative L2 error} on the device, headline first."""
        parts = [self.pde.observables(self.field, x) for x in self.points.split(self.chunk or len(self.points))]
        out, err2, ref2 = {}, 0.0, 0.0
        joint = [k for k in getattr(self.pde, "joint_observables", ()) if k in self.names] or self.names
        for k in self.names:
            pred = torch.cat([p[k].detach() for p in parts])                      # (M,)
            e, r = torch.linalg.vector_norm(pred - self.values[k]), torch.linalg.vector_norm(self.values[k])
            out[k] = e / r
            if k in joint:
                err2, ref2 = err2 + e * e, ref2 + r * r
        self.joint = (err2 / ref2).sqrt()
        return out
