import numpy as np
import pytest
from analysis_helpers import PERIOD, embed

from diffcomp.analysis.geometry import participation_ratio, pca
from diffcomp.analysis.torus_tests import (
    clifford_torus,
    label_angles,
    pc_cosines,
    principal_cosines,
    reconstruction_error,
    rings,
    standard_torus,
    torus_tests,
)

MEAN_SQUARE_RING_RADIUS_3D = 2.75  # meridians: 1; parallels of radius 2 + cos t2: mean 4.5


@pytest.mark.parametrize("seed", [0, 1])
def test_clifford_data_is_clifford(clifford, grid_labels, seed):
    # a random rotation into 256-D plus isotropic noise
    result = torus_tests(embed(clifford, 256, 0.02, seed=seed), grid_labels, period=PERIOD)
    assert result["verdict"] == "clifford"
    assert result["n_rings"] == (32, 32)
    w = result["wasserstein"]
    assert w["clifford"] < 0.05 and w["3d"] > 1.0
    data = result["data"]
    # x-on-y: the rings' PCs are orthogonal, and a ring leaves nothing in the other's plane
    assert np.all(data["xy"]["orth"] < 0.05) and np.all(data["xy"]["pcos"] < 0.05)
    assert np.all(np.abs(data["xy"]["par"] - 1) < 0.05)
    # x-on-x, y-on-y: parallel rings, r ~ 0 (centred on their own means: they are translates)
    for test in ("xx", "yy"):
        assert np.all(data[test]["par"] < 0.02) and np.all(data[test]["pcos"] > 0.98)


@pytest.mark.parametrize("seed", [0, 1])
def test_standard_torus_data_is_3d(torus3d, grid_labels, seed):
    result = torus_tests(embed(torus3d, 256, 0.05, seed=seed), grid_labels, period=PERIOD)
    assert result["verdict"] == "3d"
    w = result["wasserstein"]
    assert w["3d"] < 0.05 and w["clifford"] > 1.0
    # meridians (x-rings) and parallels (y-rings) share one direction: principal cosines (1, 0)
    pcos = np.sort(result["data"]["xy"]["pcos"].reshape(-1, 2), axis=1)
    np.testing.assert_allclose(pcos, np.tile([0.0, 1.0], (len(pcos), 1)), atol=0.05)


def test_verdict_with_a_noisy_wide_layer(clifford, torus3d, grid_labels):
    for points, verdict in ((clifford, "clifford"), (torus3d, "3d")):
        result = torus_tests(embed(points, 1024, 0.02, seed=2), grid_labels, period=PERIOD)
        assert result["verdict"] == verdict


def test_ideal_clifford_statistics(clifford, grid_labels):
    data = torus_tests(clifford, grid_labels, period=PERIOD)["data"]
    np.testing.assert_allclose(data["xy"]["orth"], 0.0, atol=1e-9)
    np.testing.assert_allclose(data["xy"]["pcos"], 0.0, atol=1e-9)
    np.testing.assert_allclose(data["xy"]["par"], 1.0, atol=1e-9)  # unit rings, fully off the other plane
    for test in ("xx", "yy"):
        np.testing.assert_allclose(data[test]["pcos"], 1.0, atol=1e-9)
        np.testing.assert_allclose(data[test]["par"], 0.0, atol=1e-9)


def test_ideal_3d_statistics_match_geometry(torus3d, grid_labels):
    result = torus_tests(torus3d, grid_labels, period=PERIOD)
    data = result["data"]
    assert len(data["xy"]["par"]) == 2048 and len(data["xx"]["par"]) == 992  # all ordered pairs
    cosines = np.sort(data["xy"]["pcos"].reshape(-1, 2), axis=1)
    np.testing.assert_allclose(cosines, [[0, 1]] * 2048, atol=1e-9)
    np.testing.assert_allclose(data["yy"]["pcos"], 1.0, atol=1e-9)
    np.testing.assert_allclose(data["yy"]["par"], 0.0, atol=1e-9)  # parallels: all in the xy-plane
    theta = label_angles(grid_labels, PERIOD)
    x_rings, y_rings = rings(grid_labels, 0), rings(grid_labels, 1)
    # x-on-y, first the 1 024 (x-ring A, y-ring B) pairs: a parallel of radius rho keeps half its
    # square radius in a meridian's plane; then (y-ring A, x-ring B): a unit meridian keeps half
    rho = 2 + np.cos([theta[y_rings[b][0], 1] for a in range(32) for b in range(32)])
    expected = np.concatenate([rho**2 / 2, np.full(1024, 0.5)]) / MEAN_SQUARE_RING_RADIUS_3D
    np.testing.assert_allclose(data["xy"]["par"], expected, atol=1e-9)
    # x-on-x: meridian planes at angle d share the z axis: r = sin^2(d) / 2, principal cosines (1, |cos d|)
    d = np.array([theta[x_rings[a][0], 0] - theta[x_rings[b][0], 0] for a in range(32) for b in range(32) if a != b])
    np.testing.assert_allclose(data["xx"]["par"], np.sin(d) ** 2 / 2 / MEAN_SQUARE_RING_RADIUS_3D, atol=1e-9)
    np.testing.assert_allclose(
        data["xx"]["pcos"].reshape(-1, 2), np.stack([np.ones_like(d), np.abs(np.cos(d))], 1), atol=1e-9
    )


def test_statistics_are_scale_free_and_ignore_small_directions(clifford, grid_labels):
    base = torus_tests(clifford, grid_labels, period=PERIOD)
    # 10x larger, plus a weak fifth direction the top-4 projection drops
    extra = 0.01 * np.random.default_rng(0).normal(size=(len(clifford), 1))
    scaled = torus_tests(10 * np.hstack([clifford, extra]), grid_labels, period=PERIOD)
    for test in ("xy", "xx", "yy"):
        for stat in ("pcos", "par"):
            np.testing.assert_allclose(scaled["data"][test][stat], base["data"][test][stat], atol=2e-3)


def test_per_pc_cosines_depend_on_the_in_plane_basis():
    """Why the verdict uses principal cosines: two bases of one isotropic ring's plane are equally valid."""
    e = np.eye(4)
    plane = e[:, :2]
    turn = np.pi / 6
    turned = plane @ np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    np.testing.assert_allclose(pc_cosines(plane, plane), [1, 0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(np.sort(pc_cosines(plane, turned)), np.sort([np.cos(turn)] * 2 + [np.sin(turn)] * 2))
    np.testing.assert_allclose(principal_cosines(plane, turned), [1, 1])
    np.testing.assert_allclose(principal_cosines(e[:, :2], e[:, 2:]), [0, 0], atol=1e-12)


def test_reconstruction_error():
    e = np.eye(4)
    h = np.array([[1.0, 0, 1, 0], [-1.0, 0, -1, 0]])  # centred ring points, half of their square norm off e1, e2
    covariance = h.T @ h / len(h)
    assert reconstruction_error(covariance, e[:, :2]) == pytest.approx(1.0)  # mean ||h - P P^T h||^2
    assert reconstruction_error(covariance, e[:, [0, 2]]) == pytest.approx(0.0)


def test_needs_a_periodic_label_space(clifford, grid_labels):
    with pytest.raises(ValueError, match="periodic"):
        torus_tests(clifford, grid_labels, period=None)


def test_angles_without_period_close_the_grid(grid_labels):
    np.testing.assert_allclose(label_angles(grid_labels), label_angles(grid_labels - 1, PERIOD))
    np.testing.assert_allclose(clifford_torus(grid_labels), clifford_torus(grid_labels - 1, PERIOD), atol=1e-12)
    np.testing.assert_allclose(standard_torus(grid_labels), standard_torus(grid_labels - 1, PERIOD), atol=1e-12)


def test_pair_sampling_is_seeded(grid_labels):
    x = embed(clifford_torus(grid_labels, PERIOD), 16, 0.3, seed=3)
    a = torus_tests(x, grid_labels, period=PERIOD, n_pairs=50, seed=7)
    b = torus_tests(x, grid_labels, period=PERIOD, n_pairs=50, seed=7)
    c = torus_tests(x, grid_labels, period=PERIOD, n_pairs=50, seed=8)
    assert len(a["data"]["xx"]["par"]) == 50 and len(a["data"]["xx"]["pcos"]) == 100
    assert len(a["data"]["xx"]["orth"]) == 200
    np.testing.assert_array_equal(a["data"]["xx"]["par"], b["data"]["xx"]["par"])
    assert not np.array_equal(a["data"]["xx"]["par"], c["data"]["xx"]["par"])
    assert a["wasserstein"] == b["wasserstein"]


def test_incomplete_grid(clifford, grid_labels):
    keep = ~((grid_labels[:, 0] >= 13) & (grid_labels[:, 0] <= 19))  # a held-out band of x values
    result = torus_tests(clifford[keep], grid_labels[keep], period=PERIOD)
    assert result["n_rings"] == (25, 32) and result["verdict"] == "clifford"


def folded_torus(labels: np.ndarray) -> np.ndarray:
    """A torus's labels mapped into one plane: ``(cos t1 + cos t2, sin t1 + sin t2)``, what a 2x2 map
    that folds both rings onto each other looks like. Every x-ring and every y-ring is a circle in
    the same plane."""
    t = label_angles(labels, PERIOD)
    return np.stack([np.cos(t[:, 0]) + 0.7 * np.cos(t[:, 1]), np.sin(t[:, 0]) + 0.7 * np.sin(t[:, 1])], axis=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_representation_folded_into_one_plane_gets_no_torus_verdict(grid_labels, seed):
    points = embed(folded_torus(grid_labels), 256, 0.02, seed=seed)
    result = torus_tests(points, grid_labels, period=PERIOD)
    assert result["plane_overlap"] > 0.9
    assert result["verdict"] == "collapsed"
    # ... although its top 4 PCs hold nearly all the variance: that claim is met trivially by a collapse
    lam = pca(points, 8).eigenvalues
    assert lam[:4].sum() / lam.sum() > 0.9 and participation_ratio(lam) < 2.5


def test_both_ideal_tori_keep_their_ring_planes_apart(clifford, torus3d, grid_labels):
    # the smaller x-ring/y-ring principal cosine is 0 for both; the 3-D torus has a participation
    # ratio of only 2.4, so a PR threshold could not tell it from a collapse: the ring rule can
    for points, verdict in ((clifford, "clifford"), (torus3d, "3d")):
        result = torus_tests(embed(points, 256, 0.02, seed=3), grid_labels, period=PERIOD)
        assert result["plane_overlap"] < 0.1 and result["verdict"] == verdict
    assert participation_ratio(pca(torus3d, 3).eigenvalues) == pytest.approx(25 / 10.375, rel=0.02)
