import numpy as np
from analysis_helpers import PERIOD, embed

from diffcomp.analysis.probes import linear_probe_r2


def test_linear_code_is_decoded(grid_labels):
    rng = np.random.default_rng(0)
    x = grid_labels @ rng.normal(size=(2, 512)) + 0.5 * rng.normal(size=(1024, 512))
    r2 = linear_probe_r2(x, grid_labels)
    assert r2["x"] > 0.99 and r2["y"] > 0.99


def test_shuffled_labels_are_not(grid_labels):
    rng = np.random.default_rng(0)
    x = grid_labels @ rng.normal(size=(2, 512)) + 0.5 * rng.normal(size=(1024, 512))
    r2 = linear_probe_r2(x, grid_labels, shuffle=True, seed=1)
    assert r2["x"] < 0.1 and r2["y"] < 0.1


def test_only_x_encoded(grid_labels):
    x = np.outer(grid_labels[:, 0], np.ones(8)) + np.random.default_rng(2).normal(size=(1024, 8))
    r2 = linear_probe_r2(x, grid_labels)
    assert r2["x"] > 0.95 and r2["y"] < 0.1


def test_ring_codes_need_the_period(clifford, grid_labels):
    x = embed(clifford, 64, 0.01, seed=3)
    periodic = linear_probe_r2(x, grid_labels, period=PERIOD)
    assert periodic["x"] > 0.99 and periodic["y"] > 0.99
    assert linear_probe_r2(x, grid_labels)["x"] < 0.8  # mu itself wraps around the ring


def test_seeded(grid_labels):
    x = np.random.default_rng(4).normal(size=(1024, 32)) + grid_labels[:, :1]
    assert linear_probe_r2(x, grid_labels, seed=3) == linear_probe_r2(x, grid_labels, seed=3)
