"""Largest-cluster mass ratio (Sec. 3.3, D.1): the definition, nestedness, known lattice answers, crossings."""

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from diffcomp.data.labels import nested_subsample
from diffcomp.theory.percolation import (
    arrival_groups,
    crossing_label,
    crossing_table,
    grid_overlaps,
    half_crossing,
    largest_cluster_fraction,
    mass_ratio_sweep,
    mass_ratios,
    nested_mass_ratios,
)

FRACTIONS = [round(0.1 * k, 1) for k in range(1, 11)]
DEFAULTS = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "task" / "percolation.yaml")


def brute_force(overlaps, fractions, seeds, threshold):
    """The definition: slice the kept points' graph, take its largest component."""
    adjacency = overlaps > threshold
    everything = torch.arange(len(overlaps))
    out = np.empty((len(fractions), len(seeds)))
    for j, seed in enumerate(seeds):
        for i, fraction in enumerate(fractions):
            keep = nested_subsample(everything, fraction, seed).numpy()
            out[i, j] = largest_cluster_fraction(adjacency[np.ix_(keep, keep)])
    return out


def test_largest_cluster_fraction_on_a_small_graph():
    adjacency = np.zeros((6, 6), dtype=bool)
    for i, j in [(0, 1), (1, 2), (4, 5)]:
        adjacency[i, j] = True  # one direction suffices: the graph is undirected
    assert largest_cluster_fraction(adjacency) == pytest.approx(3 / 6)


def test_nested_pass_on_a_hand_made_graph():
    # points arrive in groups 0, 0, 1, 1, 2, 2; edges 0-2 (group 1), 2-3 (group 1), 1-4 (group 2)
    group = np.array([0, 0, 1, 1, 2, 2])
    edges = (np.array([0, 2, 1]), np.array([2, 3, 4]))
    # group 0: {0}, {1} -> 1/2; group 1: {0, 2, 3}, {1} -> 3/4; group 2: {0, 2, 3}, {1, 4}, {5} -> 3/6
    np.testing.assert_allclose(nested_mass_ratios(edges, group, 3), [1 / 2, 3 / 4, 3 / 6])


@pytest.mark.parametrize("sigma, threshold", [(0.3, 0.001), (0.5, 0.005), (0.5, 0.1), (1.0, 0.05), (2.0, 0.001)])
def test_one_pass_equals_the_definition(sigma, threshold):
    overlaps = grid_overlaps(32, sigma)
    fractions = [0.02, 0.05, 0.3, 0.15, 0.6, 1.0]  # any order: the answer comes back in the order given
    np.testing.assert_allclose(
        mass_ratios(overlaps, fractions, [0, 3], threshold),
        brute_force(overlaps, fractions, [0, 3], threshold),
        rtol=0,
        atol=1e-12,
    )


def test_arrival_groups_are_the_nested_subsets():
    fractions = [0.1, 0.25, 0.5]
    group = arrival_groups(1024, fractions, seed=7)
    for g, fraction in enumerate(fractions):
        kept = nested_subsample(torch.arange(1024), fraction, 7).numpy()
        assert set(np.flatnonzero(group <= g)) == set(kept)
    assert (group == 3).sum() == 1024 - 512  # never kept


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


def lattice(neighbours):
    """Adjacency of the 32 x 32 grid (label_grid order) joining the given offsets."""
    xy = np.array([(x, y) for y in range(32) for x in range(32)])
    diff = np.abs(xy[:, None] - xy[None])
    return np.isin(diff[..., 0] * 100 + diff[..., 1], [dx * 100 + dy for dx, dy in neighbours])


@pytest.mark.parametrize(
    "normalization, threshold, neighbours, p_c",
    [
        # appendix A.5's overlap: sigma = 0.3's neighbours at 1, sqrt 2, 2 overlap exp(-r^2 / 1.44) ~ 0.35, 0.12, 0.06
        ("sqrt", 0.2, [(1, 0), (0, 1)], 0.5927),  # 4-neighbour square lattice (site percolation threshold)
        ("sqrt", 0.1, [(1, 0), (0, 1), (1, 1)], 0.4073),  # with diagonals: the 8-neighbour (Moore) lattice
        # the earlier reading is the square: the same lattices at the squared thresholds' neighbourhood
        ("self", 0.05, [(1, 0), (0, 1)], 0.5927),
        ("self", 0.005, [(1, 0), (0, 1), (1, 1)], 0.4073),
    ],
)
def test_sigma_03_is_site_percolation_on_a_square_lattice(normalization, threshold, neighbours, p_c):
    overlaps = grid_overlaps(32, 0.3, normalization=normalization)
    np.testing.assert_array_equal(overlaps > threshold, lattice(neighbours) | np.eye(1024, dtype=bool))
    fractions = [round(0.02 * k, 2) for k in range(10, 41)]
    mean = mass_ratios(overlaps, fractions, range(5), threshold).mean(axis=1)
    # on a finite 32 x 32 lattice the mean largest cluster passes 1/2 close to the infinite lattice's p_c
    assert half_crossing(fractions, mean) == pytest.approx(p_c, abs=0.04)


def test_half_crossing_is_the_last_upward_crossing():
    assert half_crossing([0.1, 0.2, 0.3], [0.2, 0.4, 0.8]) == pytest.approx(0.225)
    assert half_crossing([0.1, 0.2], [0.6, 0.9]) == pytest.approx(0.1)  # at or below the first lambda
    assert math.isnan(half_crossing([0.1, 0.2], [0.1, 0.2]))
    assert half_crossing([0.1, 0.2, 0.3], [0.3, 0.5, 0.9]) == pytest.approx(0.2)
    # a tiny subset that happens to be one cluster is not the onset: the later crossing counts
    assert half_crossing([0.02, 0.1, 0.2, 0.3], [0.6, 0.2, 0.4, 0.8]) == pytest.approx(0.225)
    assert math.isnan(half_crossing([0.1, 0.5, 1.0], [0.2, 0.7, 0.4]))  # fell back below: not percolated


def test_crossing_labels_say_which_side_they_are_on():
    assert crossing_label([0.1, 0.2, 0.3], [0.2, 0.4, 0.8]) == "0.225"
    assert crossing_label([0.02, 0.1], [0.6, 0.9]) == "<= 0.02"
    assert crossing_label([0.5, 1.0], [0.1, 0.2]) == "never"
    assert crossing_label([0.5, 0.8], [0.1, 0.2]) == "> 0.8"


def test_crossing_table_has_a_row_per_sigma_and_a_column_per_threshold():
    ratios = np.zeros((2, 3, 2, 1))
    ratios[:, 1] = 1.0
    ratios[1, 2, :, 0] = [0.0, 1.0]
    table = crossing_table([0.5, 1.0], ratios, [0.1, 1.0, 2.0], [0.005, 0.07], unit_overlaps=[1e-11, 0.9, 0.97])
    lines = table.strip().splitlines()
    assert lines[0] == "| σ | overlap at d = 1 | thr 0.005 (Fig. 6c) | thr 0.07 |"
    assert lines[2] == "| 0.1 | 1e-11 | never | never |"
    assert lines[3] == "| 1 | 0.9 | <= 0.5 | <= 0.5 |"
    assert lines[4] == "| 2 | 0.97 | never | 0.750 |"


def test_default_grid_runs_in_seconds_and_reads_as_the_paper():
    sigmas, seeds, thresholds = list(DEFAULTS.sigmas), list(DEFAULTS.seeds), list(DEFAULTS.thresholds)
    fractions = list(DEFAULTS.lambdas)
    start = time.perf_counter()
    ratios = mass_ratio_sweep(sigmas, fractions, seeds, thresholds)
    elapsed = time.perf_counter() - start
    print(
        f"\ndefault grid ({len(sigmas)} sigma x {len(fractions)} lambda x {len(seeds)} seeds x "
        f"{len(thresholds)} thresholds): {elapsed:.2f} s"
    )
    print(crossing_table(fractions, ratios, sigmas, thresholds))
    assert {0.1, 0.3, 0.5, 1.0, 1.5, 2.0} <= set(sigmas) and {0.005, 0.05} <= set(thresholds)
    assert elapsed < 30
    mean = ratios.mean(axis=3)
    s = {sigma: i for i, sigma in enumerate(sigmas)}
    t = {threshold: i for i, threshold in enumerate(thresholds)}
    assert mean[:, s[0.1]].max() < 0.06  # sigma = 0.1 never percolates (paper, D.1)
    assert np.all(mean[:, s[2.0], fractions.index(0.1)] > 0.99)  # sigma = 2 is connected at lambda = 0.1
    # "given a large enough threshold overlap, some datasets with small sigma never percolate" (Fig. 13):
    # above sigma = 0.3's unit-neighbour overlap (0.35) no edge is left
    assert mass_ratios(grid_overlaps(32, 0.3), [1.0], [0], 0.4).max() < 0.01
    order = np.argsort(thresholds)
    assert np.all(np.diff(mean[order], axis=0) <= 1e-12)  # a higher threshold never connects more
    crossings = [half_crossing(fractions, mean[t[0.005], s[sigma]]) for sigma in (0.3, 0.5, 1.0)]
    assert crossings[0] > crossings[1] > crossings[2]  # wider bumps percolate with less data (Fig. 6c)
