import numpy as np
import pytest
from analysis_helpers import PERIOD, embed

from diffcomp.analysis.torus_tests import (
    clifford_torus,
    label_angles,
    parallelism_error,
    principal_cosines,
    rings,
    torus_tests,
)


def test_clifford_data_is_clifford(clifford, grid_labels):
    result = torus_tests(embed(clifford, 256, 0.002, seed=0), grid_labels, period=PERIOD)
    assert result["verdict"] == "clifford"
    assert result["wasserstein"]["clifford"] < 0.05
    assert result["wasserstein"]["3d"] > 1.0
    assert result["n_rings"] == (32, 32)
    data = result["data"]
    assert np.all(data["xy"]["orth"] < 0.05)  # x- and y-rings in orthogonal planes
    assert np.all(data["xy"]["par"] > 0.95)
    assert np.all(data["xx"]["orth"] > 0.95)  # all x-rings parallel
    assert np.all(data["yy"]["par"] < 0.05)


def test_standard_torus_data_is_3d(torus3d, grid_labels):
    result = torus_tests(embed(torus3d, 256, 0.002, seed=1), grid_labels, period=PERIOD)
    assert result["verdict"] == "3d"
    assert result["wasserstein"]["3d"] < 0.05
    assert result["wasserstein"]["clifford"] > 1.0


def test_verdict_with_a_noisy_wide_layer(clifford, torus3d, grid_labels):
    for points, verdict in ((clifford, "clifford"), (torus3d, "3d")):
        result = torus_tests(embed(points, 1024, 0.02, seed=2), grid_labels, period=PERIOD)
        assert result["verdict"] == verdict


def test_ideal_statistics_match_geometry(torus3d, grid_labels):
    result = torus_tests(torus3d, grid_labels, period=PERIOD, n_pairs=None)
    # x-rings of a 3-D torus are meridian circles: orthogonal to the horizontal y-rings in one direction
    cosines = np.sort(result["data"]["xy"]["orth"].reshape(-1, 2), axis=1)
    np.testing.assert_allclose(cosines, [[0, 1]] * 2048, atol=1e-9)
    np.testing.assert_allclose(result["data"]["xy"]["par"], 0.5, atol=1e-9)
    np.testing.assert_allclose(result["data"]["yy"]["par"], 0.0, atol=1e-9)
    # meridian planes at angle d share the axis: residual share sin^2(d)/2
    x_rings = rings(grid_labels, 0)
    theta = label_angles(grid_labels, PERIOD)
    pairs = [(a, b) for a in range(32) for b in range(32) if a != b]
    expected = [np.sin(theta[x_rings[a][0], 0] - theta[x_rings[b][0], 0]) ** 2 / 2 for a, b in pairs]
    np.testing.assert_allclose(result["data"]["xx"]["par"], expected, atol=1e-9)


def test_primitives():
    e = np.eye(4)
    assert principal_cosines(e[:, :2], e[:, 2:]) == pytest.approx([0, 0])
    assert principal_cosines(e[:, :2], e[:, [1, 0]]) == pytest.approx([1, 1])
    h = np.array([[1.0, 0, 1, 0], [-1.0, 0, -1, 0]])
    assert parallelism_error(h, e[:, :2]) == pytest.approx(0.5)


def test_angles_without_period_close_the_grid(grid_labels):
    np.testing.assert_allclose(label_angles(grid_labels), label_angles(grid_labels - 1, PERIOD))
    np.testing.assert_allclose(clifford_torus(grid_labels), clifford_torus(grid_labels - 1, PERIOD), atol=1e-12)


def test_pair_sampling_is_seeded(grid_labels):
    x = embed(clifford_torus(grid_labels, PERIOD), 16, 0.3, seed=3)
    a = torus_tests(x, grid_labels, period=PERIOD, n_pairs=50, seed=7)
    b = torus_tests(x, grid_labels, period=PERIOD, n_pairs=50, seed=7)
    c = torus_tests(x, grid_labels, period=PERIOD, n_pairs=50, seed=8)
    assert len(a["data"]["xx"]["par"]) == 50 and len(a["data"]["xx"]["orth"]) == 100
    np.testing.assert_array_equal(a["data"]["xx"]["par"], b["data"]["xx"]["par"])
    assert not np.array_equal(a["data"]["xx"]["par"], c["data"]["xx"]["par"])
    assert a["wasserstein"] == b["wasserstein"]


def test_incomplete_grid(clifford, grid_labels):
    keep = ~((grid_labels[:, 0] >= 13) & (grid_labels[:, 0] <= 19))  # a held-out band of x values
    result = torus_tests(clifford[keep], grid_labels[keep], period=PERIOD)
    assert result["n_rings"] == (25, 32) and result["verdict"] == "clifford"
