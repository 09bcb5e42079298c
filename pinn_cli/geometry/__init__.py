"""Domains beyond boxes: membership, interior and boundary samplers with outward normals, named
boundary parts, combinations and a time interval (:mod:`pinn_cli.geometry.base` states the maths).

    from pinn_cli.geometry import Box, Disc, Polygon, SpaceTime
    plate = Box([[0, 1], [0, 1]], name="outer") - Disc([0.3, 0.5], 0.1, name="hole")
    x = plate.interior(2000, rng)                     # (2000, 2), uniform in the plate
    b = plate.boundary(200, rng, part="hole")         # b.points, b.normals (outward of the plate)
    plate.contains(x), plate.normal(points)           # numpy or a tensor
"""
from pinn_cli.geometry.base import BoundarySample, Domain, Piece
from pinn_cli.geometry.csg import Difference, Intersection, Union
from pinn_cli.geometry.polygon import Polygon
from pinn_cli.geometry.shapes import Ball, Box, Disc
from pinn_cli.geometry.spacetime import SpaceTime

__all__ = ["Domain", "BoundarySample", "Piece", "Box", "Ball", "Disc", "Polygon", "Union",
           "Difference", "Intersection", "SpaceTime"]
