import time

import numpy as np
import pytest
from analysis_helpers import circle, embed, rms_radius, sphere, square_grid, two_balls, two_sheets
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import pdist, squareform

from diffcomp.analysis.topology import (
    REL_LIFETIME,
    betti_numbers,
    choose_n_pcs,
    h0_diagram,
    lifetimes,
    persistent_homology,
    radius,
)
from diffcomp.analysis.torus_tests import clifford_torus, standard_torus

# shape -> (points for a seed, expected Betti numbers, PCs the projection should keep)
SHAPES = {
    "sheet": (lambda request, seed: square_grid(), (1, 0, 0), 2),
    "circle": (lambda request, seed: circle(1024, seed), (1, 1, 0), 2),
    "clifford": (lambda request, seed: request.getfixturevalue("clifford"), (1, 2, 1), 4),
    "torus3d": (lambda request, seed: request.getfixturevalue("torus3d"), (1, 2, 1), 3),
    "sphere": (lambda request, seed: sphere(1024, seed), (1, 0, 1), 3),
    "two_sheets": (lambda request, seed: two_sheets(), (2, 0, 0), 2),
    "two_balls": (lambda request, seed: two_balls(1024, seed), (2, 0, 0), 2),  # y, z hold < 5 %
}
CASES = [(name, seed) for name in SHAPES for seed in ((0, 1) if name in ("clifford", "torus3d") else (0, 1, 2))]


def _margins(ph, expected) -> tuple[float, float]:
    """(shortest expected bar, longest other bar), windowed lifetimes in units of the Betti cut."""
    real, noise = [], []
    for dim, dgm in enumerate(ph.diagrams):
        life = np.sort(lifetimes(dgm, ph.window))[::-1] / ph.thresholds[dim]
        real.extend(life[: expected[dim]])
        noise.extend(life[expected[dim] : expected[dim] + 1])
    return min(real, default=np.inf), max(noise, default=0.0)


@pytest.mark.parametrize("name,seed", CASES)
def test_known_shapes_in_256_dims_with_noise(name, seed, request):
    """1 024 points, a random rotation into 256-D, isotropic noise of 2 % of the radius per dimension."""
    build, expected, n_pcs = SHAPES[name]
    points = build(request, seed)
    ph = persistent_homology(embed(points, 256, 0.02 * rms_radius(points), seed=seed), seed=seed)
    assert ph.betti == expected
    assert ph.n_pcs == n_pcs  # the noise directions are dropped
    real, noise = _margins(ph, expected)
    assert real > 1.1 and noise < 1 / 1.1  # clear of the cut (calibration in the module docstring)
    assert ph.largest_component == pytest.approx(1.0 / expected[0])  # one piece, or two equal halves


@pytest.mark.parametrize("name", ["clifford", "torus3d"])
def test_ideal_tori(name, request):
    assert persistent_homology(request.getfixturevalue(name)).betti == (1, 2, 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_randomly_sampled_clifford_torus(seed):
    t = np.random.default_rng(seed).uniform(0, 2 * np.pi, (1024, 2))
    points = np.stack([np.cos(t[:, 0]), np.sin(t[:, 0]), np.cos(t[:, 1]), np.sin(t[:, 1])], axis=1)
    assert persistent_homology(points, seed=seed).betti == (1, 2, 1)


def test_two_separate_circles():
    points = np.concatenate([circle(300, 0), circle(300, 1) + [6.0, 0.0]])
    assert persistent_homology(points).betti == (2, 2, 0)


def test_reading_is_scale_free():
    points = embed(sphere(600, 3), 32, 0.01, seed=3)
    small, large = persistent_homology(points), persistent_homology(1e3 * points)
    assert small.betti == large.betti == (1, 0, 1)
    assert large.scale == pytest.approx(1e3 * small.scale)
    np.testing.assert_allclose(large.thresholds, 1e3 * np.asarray(small.thresholds))


def test_fast_on_a_wide_layer(clifford):
    x = embed(clifford, 4096, 0.01, seed=4).astype(np.float32)
    tic = time.perf_counter()
    ph = persistent_homology(x)
    assert time.perf_counter() - tic < 10.0
    assert ph.betti == (1, 2, 1)


def test_simplex_budget_bounds_thick_high_dimensional_clouds():
    # a 6-D Gaussian blob: its full sparse Rips has ~1e8 simplices; the budget cuts the landmarks
    x = np.random.default_rng(0).normal(size=(1024, 6))
    tic = time.perf_counter()
    # (the complex is built up to the reading window only, so it takes a small budget to force a cut)
    ph = persistent_homology(x, max_simplices=5e3)
    assert time.perf_counter() - tic < 5.0
    assert ph.n_points < 300 and ph.n_simplices < 2e4
    assert ph.betti[1:] == (0, 0)


def test_stray_samples_are_components_of_their_own():
    """A sheet with a few samples flung far off: beta_0 counts them, the largest component says 'mostly one'."""
    points = square_grid()
    points[:5] += np.random.default_rng(0).normal(scale=3.0, size=(5, 2))
    ph = persistent_homology(embed(points, 64, 0.005, seed=0))
    assert ph.betti[0] > 1 and ph.largest_component > 0.99


def test_h0_is_the_minimum_spanning_tree():
    points = np.random.default_rng(5).normal(size=(300, 3))
    dgm = h0_diagram(points)
    assert dgm.shape == (300, 2) and np.all(dgm[:, 0] == 0) and np.isinf(dgm[:, 1]).sum() == 1
    mst = minimum_spanning_tree(squareform(pdist(points))).data
    np.testing.assert_allclose(np.sort(dgm[:-1, 1]), np.sort(mst))
    # a duplicate point is a zero-length bar (scipy's dense MST would treat that distance as no edge)
    np.testing.assert_allclose(h0_diagram(points[[0, 0, 1]])[:, 1], [np.linalg.norm(points[0] - points[1]), 0, np.inf])


def test_betti_rule_counts_long_bars_in_the_window():
    inf = np.inf
    diagrams = [
        np.array([[0, inf], [0, 1.2], [0, 0.3]]),  # a second cluster 1.2 away; a 0.3 gap is noise
        np.array([[0.1, 2.5], [0.2, 0.5], [1.4, 3.0]]),  # windowed lifetimes 1.4, 0.3, 0.1 (born late)
        np.array([[0.5, 1.0], [1.6, 3.0]]),  # 0.5; the second is born after the window
    ]
    betti, thresholds, scale = betti_numbers(diagrams, rel_lifetime=0.35, scale=1.0, window=1.5)
    assert (thresholds, scale) == ((0.35, 0.35, 0.35), 1.0)
    assert betti == (2, 1, 1)
    # doubled scale: cut 0.7, window 3: the late bars are now inside the window
    assert betti_numbers(diagrams, rel_lifetime=0.35, scale=2.0, window=1.5)[0] == (2, 2, 1)
    # one cut per dimension: an H2 cut above the void's 0.5 drops it, the others unchanged
    per_dim, cuts, _ = betti_numbers(diagrams, rel_lifetime=(0.35, 0.35, 0.6), scale=1.0, window=1.5)
    assert per_dim == (2, 1, 0) and cuts == (0.35, 0.35, 0.6)
    # a hole still open at the window's end (an infinite bar of the truncated complex) counts by its lifetime
    open_hole = [np.array([[0, inf]]), np.array([[0.2, inf], [1.45, inf]])]
    assert betti_numbers(open_hole, rel_lifetime=0.35, scale=1.0, window=1.5)[0] == (1, 1)
    np.testing.assert_allclose(lifetimes(diagrams[1], 1.5), [1.4, 0.3, 0.1])
    # a single point (radius 0) is one component
    assert betti_numbers([np.array([[0, inf]]), np.zeros((0, 2))], scale=0.0)[0] == (1, 0)


def test_radius():
    assert radius(circle(1000, 0)) == pytest.approx(1.0, abs=0.01)
    assert radius(np.zeros((5, 3))) == 0.0


def test_choose_n_pcs():
    assert choose_n_pcs(np.array([1.0, 0.9, 0.5, 0.2, 0.01, 0.001])) == 4
    assert choose_n_pcs(np.array([1.0, 0.001])) == 2
    assert choose_n_pcs(np.ones(20)) == 6


def _grid(n: int) -> np.ndarray:
    g = np.arange(1.0, n + 1.0)
    gx, gy = np.meshgrid(g, g, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


GRID_SHAPES = {  # an n x n label grid -> (points, expected Betti numbers)
    "sheet": (lambda n, seed: square_grid(n), (1, 0, 0)),
    "circle": (lambda n, seed: circle(n * n, seed), (1, 1, 0)),
    "clifford": (lambda n, seed: clifford_torus(_grid(n), float(n)), (1, 2, 1)),
    "torus3d": (lambda n, seed: standard_torus(_grid(n), float(n)), (1, 2, 1)),
}


@pytest.mark.parametrize("n", [16, 24, 32])  # 256, 576 and 1 024 points: the label grids evaluations analyse
@pytest.mark.parametrize("name", list(GRID_SHAPES))
@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_betti_numbers_hold_at_every_point_count_the_experiments_analyse(n, name, noise):
    """An ideal shape on the n x n grid, rotated into 256-D with noise (x radius per dimension), reads its
    own Betti numbers; before the per-dimension cuts a 256-point 3-D torus read (1, 17, 0)."""
    build, expected = GRID_SHAPES[name]
    points = build(n, 0)
    ph = persistent_homology(embed(points, 256, noise * rms_radius(points), seed=n), seed=0)
    assert ph.calibrated and ph.n_points <= n * n
    assert ph.betti == expected


def test_below_the_calibrated_point_count_the_reading_says_so():
    ph = persistent_homology(clifford_torus(_grid(8), 8.0))
    assert not ph.calibrated and len(REL_LIFETIME) == 3
