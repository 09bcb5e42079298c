"""Domains: membership, uniform interior and boundary sampling, outward normals, named parts,
combinations, a time interval; seeded (the same generator gives the same points)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinn_cli.geometry import Ball, Box, Disc, Polygon, SpaceTime
from pinn_cli.pdes import Helmholtz

SQUARE = [[0.0, 1.0], [0.0, 1.0]]
L_SHAPE = [[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]]        # area 3, perimeter 8


def plate():
    """The unit square with two holes: area 1 - pi (0.1^2 + 0.15^2)."""
    return (Box(SQUARE, name="outer") - Disc([0.3, 0.5], 0.1, name="hole")
            - Disc([0.7, 0.5], 0.15, name="hole"))


DOMAINS = {
    "box3d": lambda: Box([[0, 1], [-1, 2], [0, 0.5]]),
    "ball3d": lambda: Ball([0, 0, 0], 2.0),
    "l_shape": lambda: Polygon(L_SHAPE),
    "l_shape_cw": lambda: Polygon(L_SHAPE[::-1]),
    "plate": plate,
    "union": lambda: Disc([0, 0], 1.0) | Box([[0, 2], [-0.5, 0.5]]),
    "intersection": lambda: Disc([0, 0], 1.0) & Box([[0, 2], [-2, 2]]),
    "spacetime": lambda: SpaceTime(plate(), (0.0, 2.0)),
}


def _binom_ok(k: int, n: int, p: float, z: float = 4.5) -> bool:
    """k successes of n draws consistent with probability p (|z-score| < z)."""
    return abs(k - n * p) < z * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("name", DOMAINS)
def test_samplers_stay_in_the_domain_and_on_its_boundary_with_outward_unit_normals(name):
    dom = DOMAINS[name]()
    rng = np.random.default_rng(1)
    x = dom.interior(4000, rng)
    assert x.shape == (4000, dom.dim) and dom.contains(x).all() and (dom.sdf(x) < 0).all()
    b = dom.boundary(2000, rng)
    assert b.points.shape == b.normals.shape == (2000, dom.dim) and b.parts.shape == (2000,)
    assert dom.on_boundary(b.points, tol=1e-12).all()
    np.testing.assert_allclose(np.linalg.norm(b.normals, axis=1), 1.0, rtol=0, atol=1e-12)
    # outward: a small step along the normal leaves the domain, one against it enters it
    # (near a corner, or where two shapes meet, a few points are ambiguous: 99% must hold)
    eps = 1e-4
    ahead, behind = b.points + eps * b.normals, b.points - eps * b.normals
    sharp = np.abs(dom.sdf(ahead) - eps) < 1e-9
    assert sharp.mean() > 0.95                                  # the distance grows by the step
    assert (dom.sdf(ahead) > 0).mean() > 0.99 and (dom.sdf(behind) < 0).mean() > 0.99
    # normal() at the boundary points gives the sampled normals
    agree = np.linalg.norm(dom.normal(b.points) - b.normals, axis=1) < 1e-9
    assert agree.mean() > 0.995, (name, agree.mean())


@pytest.mark.parametrize("name", DOMAINS)
def test_the_same_seed_gives_the_same_points(name):
    dom = DOMAINS[name]()
    one = dom.interior(500, np.random.default_rng(7)), dom.boundary(300, np.random.default_rng(7))
    two = dom.interior(500, np.random.default_rng(7)), dom.boundary(300, np.random.default_rng(7))
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1].points, two[1].points)
    other = dom.interior(500, np.random.default_rng(8))
    assert not np.array_equal(one[0], other)


def test_a_box_draws_the_latin_hypercube_the_shipped_problems_draw():
    pde = Helmholtz(n_collocation=500)
    ours = Box(pde.bounds).interior(500, np.random.default_rng(3))
    np.testing.assert_array_equal(ours, pde.latin_hypercube(500, np.random.default_rng(3)))


def test_interior_points_are_area_proportional():
    """The share of the plate's points in its left half is that half's share of the area, and
    the L-shape's share in x > 1 is 1/3; a Latin-hypercube-free domain (the ball) puts r <= R/2
    with probability 1/2^3 in 3-D."""
    rng = np.random.default_rng(0)
    n = 40000
    x = plate().interior(n, rng)
    area = 1 - math.pi * (0.1**2 + 0.15**2)
    left = (0.5 - math.pi * 0.1**2) / area                      # the first hole lies in x < 0.5
    assert _binom_ok(int((x[:, 0] < 0.5).sum()), n, left)
    y = Polygon(L_SHAPE).interior(n, rng)
    assert _binom_ok(int((y[:, 0] > 1).sum()), n, 1 / 3)
    assert _binom_ok(int((y[:, 1] > 1).sum()), n, 1 / 3)
    z = Ball([1, 1, 1], 2.0).interior(n, rng)
    assert _binom_ok(int((np.linalg.norm(z - 1, axis=1) <= 1).sum()), n, 1 / 8)


def test_boundary_points_are_length_proportional_and_carry_their_part():
    rng = np.random.default_rng(0)
    n = 40000
    b = plate().boundary(n, rng)
    outer, holes = 4.0, 2 * math.pi * (0.1 + 0.15)
    assert set(b.parts) == {"outer", "hole"}
    assert _binom_ok(int((b.parts == "hole").sum()), n, holes / (outer + holes))
    near_small = np.linalg.norm(b.points - [0.3, 0.5], axis=1) < 0.1 + 1e-9
    assert _binom_ok(int(near_small.sum()), n, 2 * math.pi * 0.1 / (outer + holes))
    h = plate().boundary(500, rng, part="hole")
    assert (h.parts == "hole").all()
    centre = np.where(h.points[:, :1] < 0.5, [[0.3, 0.5]], [[0.7, 0.5]])
    inward = (centre - h.points) / np.linalg.norm(centre - h.points, axis=1, keepdims=True)
    np.testing.assert_allclose(h.normals, inward, atol=1e-12)   # out of the plate: into the hole
    ell = Polygon(L_SHAPE, edges=["bottom", "right", "step", "step", "left2", "left"]).boundary(n, rng)
    assert _binom_ok(int((ell.parts == "step").sum()), n, 2 / 8)
    with pytest.raises(ValueError, match="no boundary part 'inlet'.*outer, hole"):
        plate().boundary(10, rng, part="inlet")


def test_union_counts_overlap_once_and_its_boundary_excludes_the_inside():
    """Disc r=1 | box [0,2]x[-.5,.5]: area pi + 2 - |overlap|; no boundary point inside the other."""
    rng = np.random.default_rng(2)
    u = Disc([0, 0], 1.0, name="disc") | Box([[0, 2], [-0.5, 0.5]], name="bar")
    b = u.boundary(20000, rng)
    assert (Disc([0, 0], 1.0).sdf(b.points[b.parts == "bar"]) >= 0).all()
    assert (Box([[0, 2], [-0.5, 0.5]]).sdf(b.points[b.parts == "disc"]) >= 0).all()
    x = u.interior(40000, rng)
    # overlap: the part of the bar with x^2 + y^2 < 1 (x in [0, 1], |y| < 0.5)
    overlap = 2 * (0.5 * math.sqrt(0.75) / 2 + math.asin(0.5) / 2)
    area = math.pi + 2 - overlap
    assert _binom_ok(int((x[:, 0] > 1).sum()), 40000, 1.0 / area)


def test_spacetime_points_times_and_initial():
    rng = np.random.default_rng(0)
    st = SpaceTime(plate(), (0.5, 1.5))
    x = st.interior(2000, rng)
    assert x.shape == (2000, 3) and (x[:, 0] >= 0.5).all() and (x[:, 0] < 1.5).all()
    assert plate().contains(x[:, 1:]).all()
    x0 = st.initial(100, rng)
    assert (x0[:, 0] == 0.5).all() and plate().contains(x0[:, 1:]).all()
    b = st.boundary(300, rng, part="outer")
    assert (b.normals[:, 0] == 0).all() and Box(SQUARE).on_boundary(b.points[:, 1:]).all()
    assert not st.contains(np.array([[2.0, 0.9, 0.9], [1.0, 0.3, 0.5]])).any()
    assert st.contains(np.array([[1.0, 0.9, 0.9]])).all()


def test_normal_of_a_tensor_is_a_tensor_and_computed_once():
    dom = plate()
    b = dom.boundary(64, np.random.default_rng(0))
    x = torch.as_tensor(b.points, dtype=torch.float32)
    n1 = dom.normal(x)
    assert n1.dtype == torch.float32 and n1.shape == (64, 2)
    torch.testing.assert_close(n1, torch.as_tensor(b.normals, dtype=torch.float32))
    calls = []
    real = dom._normal
    dom._normal = lambda a: calls.append(1) or real(a)
    for _ in range(3):
        dom.normal(x)
    assert not calls                                            # remembered
    x.mul_(1.0)                                                  # changed in place: computed again
    dom.normal(x)
    assert calls == [1]


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(ValueError, match="low < high"):
        Box([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="radius > 0"):
        Disc([0, 0], -1)
    with pytest.raises(ValueError, match="cross"):
        Polygon([[0, 0], [2, 2], [2, 0], [0, 1]])               # a bow tie
    with pytest.raises(ValueError, match="2-D and a 3-D"):
        Disc([0, 0], 1) | Ball([0, 0, 0], 1)
    with pytest.raises(ValueError, match="empty or too small"):
        (Disc([0, 0], 1) - Disc([0, 0], 2)).interior(10, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        plate().contains(np.zeros((3, 3)))


def _face_shares(dom, faces, n=24000, seed=0):
    """Fraction of n boundary points on each face, a face given as (axis, value)."""
    p = dom.boundary(n, np.random.default_rng(seed)).points
    return [np.mean(np.isclose(p[:, axis], value)) for axis, value in faces]


UNIT_FACES = [(0, 0.0), (0, 1.0), (1, 0.0), (1, 1.0)]


@pytest.mark.parametrize("name, dom, faces, lengths", [
    ("intersection sharing three edges", Box([[0, 1], [0, 1]]) & Box([[0, 2], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("union overlapping on the top and bottom edges", Box([[0, 1], [0, 1]]) | Box([[0.5, 1.5], [0, 1]]),
     [(0, 0.0), (0, 1.5), (1, 0.0), (1, 1.0)], [1, 1, 1.5, 1.5]),
    ("a box with itself", Box([[0, 1], [0, 1]]) | Box([[0, 1], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("a box with itself, intersected", Box([[0, 1], [0, 1]]) & Box([[0, 1], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("two boxes side by side: the shared edge is inside", Box([[0, 1], [0, 1]]) | Box([[1, 2], [0, 1]]),
     [(0, 0.0), (0, 1.0), (0, 2.0), (1, 0.0), (1, 1.0)], [1, 0, 1, 2, 2]),
    ("two boxes meeting at a corner", Box([[0, 1], [0, 1]]) | Box([[1, 2], [1, 2]]),
     [(0, 0.0), (0, 1.0), (0, 2.0), (1, 0.0), (1, 1.0), (1, 2.0)], [1, 2, 1, 1, 2, 1]),
    ("a difference cutting along a face", Box([[0, 2], [0, 1]]) - Box([[1, 2], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("a difference touching a face", Box([[0, 1], [0, 1]]) - Box([[1, 2], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("a cube and a longer box, intersected (3-D)",
     Box([[0, 1], [0, 1], [0, 1]]) & Box([[0, 2], [0, 1], [0, 1]]),
     [(a, v) for a in range(3) for v in (0.0, 1.0)], [1] * 6),
    ("a face hidden in a union, exposed by a difference",
     (Box([[0, 1], [0, 1]]) | Box([[1, 2], [0, 1]])) - Box([[1, 2], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("the same, exposed by a longer difference",
     (Box([[0, 1], [0, 1]]) | Box([[1, 2], [0, 1]])) - Box([[1, 3], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("the same, exposed by an intersection",
     (Box([[0, 1], [0, 1]]) | Box([[1, 2], [0, 1]])) & Box([[0, 1], [0, 1]]), UNIT_FACES, [1, 1, 1, 1]),
    ("a hole in a hole: a box again",
     Box([[0, 2], [0, 1]]) - (Box([[1, 3], [0, 1]]) - Box([[1, 2], [0, 1]])),
     [(0, 0.0), (0, 2.0), (1, 0.0), (1, 1.0)], [1, 1, 2, 2]),
    ("two overlapping boxes, united (3-D)",
     Box([[0, 1], [0, 1], [0, 1]]) | Box([[0.5, 1.5], [0, 1], [0, 1]]),
     [(0, 0.0), (0, 1.5), (1, 0.0), (1, 1.0), (2, 0.0), (2, 1.0)], [1, 1, 1.5, 1.5, 1.5, 1.5]),
])
def test_combined_shapes_keep_every_face_once_where_faces_coincide(name, dom, faces, lengths):
    """The sampled boundary's share on each face is the face's length (area) over the exact
    perimeter (surface), within sampling noise; a shared face is neither lost nor doubled."""
    total = sum(lengths)
    shares = _face_shares(dom, faces)
    for (axis, value), share, size in zip(faces, shares, lengths):
        if size == 0:
            # the shared edge of two boxes side by side is no boundary: only its two end points
            assert share < 0.002, (name, axis, value, share)
        else:
            assert abs(share - size / total) < 0.02, (name, axis, value, share, size / total)


STEP = Box([[0, 4], [0, 1]], faces=["inlet", "outlet", "wall", "wall"]) - Box([[0, 1], [0, 0.5]], name="step")


@pytest.mark.parametrize("name, dom, inside, boundary, outside", [
    ("a step cut from a channel's corner", STEP,
     [[0.5, 0.75], [2, 0.25]],
     [[1, 0.25], [0.5, 0.5], [0, 0.5], [1, 0.5], [1, 0], [0, 0.75], [3, 0], [4, 0.5]],
     [[0, 0.25], [0.5, 0], [0.5, 0.25], [0, 0]]),
    ("two boxes side by side", Box([[0, 1], [0, 1]]) | Box([[1, 2], [0, 1]]),
     [[1, 0.5], [0.5, 0.5]], [[1, 0], [1, 1], [2, 1], [0, 0.5]], [[2.5, 0.5]]),
    ("a box cut along a face (3-D)", Box([[0, 2], [0, 1], [0, 1]]) - Box([[1, 2], [0, 1], [0, 1]]),
     [[0.5, 0.5, 0.5]], [[1, 0.5, 0.5], [0.5, 0, 0.5], [1, 1, 1]], [[1.5, 0.5, 0.5], [1.5, 0, 0.5], [2, 1, 1]]),
])
def test_membership_is_that_of_the_closure_of_the_interior(name, dom, inside, boundary, outside):
    """A face a difference leaves dangling (the removed box's edges on the outer box's faces) is
    outside and no boundary; a face between two shapes side by side is inside and no boundary."""
    for points, member, edge in ((inside, True, False), (boundary, True, True), (outside, False, False)):
        x = np.array(points, dtype=float)
        assert (dom.contains(x) == member).all(), (name, points, dom.contains(x))
        assert (dom.on_boundary(x) == edge).all(), (name, points, dom.on_boundary(x))


def test_a_grid_over_a_channel_with_a_step_sees_its_area():
    """The grid points a residual map colours: those of the closed domain, no strip on the
    removed box's dangling edges (the count on a grid is exact)."""
    g = np.linspace(0, 4, 33), np.linspace(0, 1, 9)                       # spacing 1/8
    x = np.stack(np.meshgrid(*g, indexing="ij"), -1).reshape(-1, 2)
    removed = (x[:, 0] < 1) & (x[:, 1] < 0.5)                # the open step and its dangling edges
    dangling = removed | ((x[:, 0] == 0) & (x[:, 1] < 0.5)) | ((x[:, 1] == 0) & (x[:, 0] < 1))
    assert (STEP.contains(x) == ~dangling).all()
    b = STEP.boundary(400, np.random.default_rng(0))
    assert STEP.on_boundary(b.points).all() and set(b.parts) == {"inlet", "outlet", "wall", "step"}


@pytest.mark.parametrize("name", DOMAINS)
def test_a_number_of_points_is_an_integer_at_least_zero(name):
    """interior(-1) gave an empty array, silently; 0 gives (0, d), as many as asked."""
    dom, rng = DOMAINS[name](), np.random.default_rng(0)
    assert dom.interior(0, rng).shape == (0, dom.dim)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="the number of points must be an integer >= 0"):
            dom.interior(bad, rng)
        with pytest.raises(ValueError, match="the number of points must be an integer >= 0"):
            dom.boundary(bad, rng)
