"""Write plate_nodes.txt: the manufactured temperature at the nodes of a mesh of the plate, in the
layout COMSOL exports nodal values (``%`` comment lines, the last naming the columns).

The nodes are what a mesher would place at spacing h: evenly on the outer edge and on each hole,
and a jittered lattice inside kept at least h/2 from the edges. ``python make_nodes.py``
reproduces the file exactly (fixed seed).
"""
from __future__ import annotations

import numpy as np

from plate import PerforatedPlate

H = 0.03

if __name__ == "__main__":
    plate = PerforatedPlate()
    rng = np.random.default_rng(2024)
    s = np.arange(0.0, 1.0, H)
    outer = np.concatenate([np.column_stack([s, 0 * s]), np.column_stack([0 * s + 1, s]),
                            np.column_stack([1 - s, 0 * s + 1]), np.column_stack([0 * s, 1 - s])])
    rings = []
    for h in ({"x": 0.3, "y": 0.6, "r": 0.12}, {"x": 0.68, "y": 0.35, "r": 0.15}):
        a = np.linspace(0, 2 * np.pi, int(np.ceil(2 * np.pi * h["r"] / H)), endpoint=False)
        rings.append(np.column_stack([h["x"] + h["r"] * np.cos(a), h["y"] + h["r"] * np.sin(a)]))
    g = np.arange(H / 2, 1, H)
    lattice = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    lattice += rng.uniform(-0.25 * H, 0.25 * H, lattice.shape)
    inner = lattice[plate.domain.sdf(lattice) < -H / 2]
    nodes = np.concatenate([outer, *rings, inner])
    T = plate.exact(nodes[:, 0], nodes[:, 1])
    head = ["Model:              perforated_plate.mph (manufactured: T = sin(pi x) sin(pi y) + x)",
            "Dimension:          2", f"Nodes:              {len(nodes)}", "Expressions:        1",
            "Description:        Temperature", "Length unit:        m", "x y T"]
    np.savetxt("plate_nodes.txt", np.column_stack([nodes, T]), fmt="%.10g",
               header="\n".join(head), comments="% ")
    print(f"{len(nodes)} nodes written to plate_nodes.txt")
