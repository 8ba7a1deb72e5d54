"""Largest-cluster mass ratio (Sec. 3.3, D.1): limits, nestedness, crossings, and the Fig. 6c grid's speed."""

import math
import time

import numpy as np
import pytest
import torch

from diffcomp.data.labels import nested_subsample
from diffcomp.theory.percolation import (
    grid_overlaps,
    half_crossing,
    largest_cluster_fraction,
    mass_ratio_sweep,
    mass_ratios,
)

FRACTIONS = [round(0.1 * k, 1) for k in range(1, 11)]


def test_largest_cluster_fraction_on_a_small_graph():
    adjacency = np.zeros((6, 6), dtype=bool)
    for i, j in [(0, 1), (1, 2), (4, 5)]:
        adjacency[i, j] = True  # one direction suffices: the graph is undirected
    assert largest_cluster_fraction(adjacency) == pytest.approx(3 / 6)


def test_threshold_zero_connects_everything():
    overlaps = grid_overlaps(8, 1.0)
    assert overlaps.min() > 0  # every pair shares some ink
    ratios = mass_ratios(overlaps, [0.1, 0.5, 1.0], [0, 1], threshold=0.0)
    np.testing.assert_array_equal(ratios, 1.0)


def test_threshold_above_one_leaves_single_points():
    overlaps = grid_overlaps(8, 2.0)
    ratios = mass_ratios(overlaps, [0.25, 1.0], [0], threshold=1.0 + 1e-9)
    np.testing.assert_allclose(ratios[:, 0], [1 / 16, 1 / 64])


def test_subsets_are_nested():
    everything = torch.arange(1024)
    for seed in range(3):
        previous = set()
        for fraction in FRACTIONS:
            kept = set(nested_subsample(everything, fraction, seed).tolist())
            assert abs(len(kept) - fraction * 1024) < 1  # floor or ceil of lambda * M, per the data module
            assert previous <= kept
            previous = kept


def test_largest_cluster_never_shrinks_as_lambda_grows():
    # nested subsets only add points and edges, so the largest cluster's *size* cannot decrease
    overlaps = grid_overlaps(32, 0.5)
    ratios = mass_ratios(overlaps, FRACTIONS, [0, 1, 2], threshold=0.05)
    counts = [len(nested_subsample(torch.arange(1024), f, 0)) for f in FRACTIONS]
    sizes = ratios * np.array(counts)[:, None]
    assert np.all(np.diff(sizes, axis=0) >= 0)


def test_half_crossing_interpolates():
    assert half_crossing([0.1, 0.2, 0.3], [0.2, 0.4, 0.8]) == pytest.approx(0.225)
    assert half_crossing([0.1, 0.2], [0.6, 0.9]) == pytest.approx(0.1)  # at or below the first lambda
    assert math.isnan(half_crossing([0.1, 0.2], [0.1, 0.2]))
    assert half_crossing([0.1, 0.2, 0.3], [0.3, 0.5, 0.9]) == pytest.approx(0.2)


def test_figure_6c_grid_runs_in_seconds():
    sigmas, seeds, thresholds = [0.1, 0.5, 1.0, 1.5, 2.0], range(5), [0.005, 0.05]
    start = time.perf_counter()
    ratios = mass_ratio_sweep(sigmas, FRACTIONS, seeds, thresholds)
    elapsed = time.perf_counter() - start
    print(f"\nFig. 6c grid (5 sigma x 10 lambda x 5 seeds x 2 thresholds): {elapsed:.2f} s")
    assert ratios.shape == (2, 5, 10, 5)
    mean = ratios.mean(axis=3)
    for t, threshold in enumerate(thresholds):
        crossings = [half_crossing(FRACTIONS, mean[t, s]) for s in range(5)]
        print(f"threshold {threshold}: lambda_half =", ", ".join(f"{c:.3f}" for c in crossings))
    assert mean[:, 0].max() < 0.05  # sigma = 0.1 never percolates (paper, D.1)
    assert np.all(mean[:, 4] > 0.99)  # sigma = 2 is connected already at lambda = 0.1
    assert np.all(mean[0] >= mean[1] - 1e-12)  # a lower threshold connects at least as much
