import time

import numpy as np
import pytest
from analysis_helpers import embed

from diffcomp.analysis.topology import betti_numbers, choose_n_pcs, persistent_homology


def _circle(n: int, seed: int) -> np.ndarray:
    t = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


@pytest.mark.parametrize("name", ["clifford", "torus3d"])
def test_torus_betti_numbers(name, request):
    assert persistent_homology(request.getfixturevalue(name)).betti == (1, 2, 1)


@pytest.mark.parametrize("name,noise", [("clifford", 0.02), ("torus3d", 0.05)])
def test_torus_in_256_dims_with_noise(name, noise, request):
    ph = persistent_homology(embed(request.getfixturevalue(name), 256, noise, seed=3))
    assert ph.betti == (1, 2, 1)
    assert ph.n_pcs == (4 if name == "clifford" else 3)  # the noise directions are dropped


@pytest.mark.parametrize("seed", [0, 1])
def test_randomly_sampled_clifford_torus(seed):
    # uniform random angles leave sampling holes; ~1 seed in 50 has one reaching the Betti cut
    t = np.random.default_rng(seed).uniform(0, 2 * np.pi, (1024, 2))
    points = np.stack([np.cos(t[:, 0]), np.sin(t[:, 0]), np.cos(t[:, 1]), np.sin(t[:, 1])], axis=1)
    assert persistent_homology(points, seed=seed).betti == (1, 2, 1)


def test_circle():
    assert persistent_homology(_circle(1024, 0)).betti == (1, 1, 0)
    assert persistent_homology(embed(_circle(1024, 1), 256, 0.03, seed=2)).betti == (1, 1, 0)


def test_two_separate_circles():
    points = np.concatenate([_circle(300, 0), _circle(300, 1) + [6.0, 0.0]])
    assert persistent_homology(points).betti == (2, 2, 0)


def test_fast_on_a_wide_layer(clifford):
    x = embed(clifford, 4096, 0.01, seed=4).astype(np.float32)
    tic = time.perf_counter()
    ph = persistent_homology(x)
    assert time.perf_counter() - tic < 10.0
    assert ph.betti == (1, 2, 1)


def test_simplex_budget_bounds_thick_high_dimensional_clouds():
    # a 6-D Gaussian blob: its full sparse Rips has ~4e7 simplices (a minute); the budget cuts points
    x = np.random.default_rng(0).normal(size=(1024, 6))
    tic = time.perf_counter()
    ph = persistent_homology(x, max_simplices=5e5)
    assert time.perf_counter() - tic < 5.0
    assert ph.n_points < 400 and ph.n_simplices < 1e6
    assert ph.betti[1:] == (0, 0)


def test_betti_rule_counts_long_bars_only():
    inf = np.inf
    diagrams = [
        np.array([[0, inf], [0, 0.2], [0, 0.1]]),
        np.array([[0.2, 2.0], [0.2, 1.5], [0.3, 0.9]]),  # lifetimes 1.8, 1.3, 0.6
        np.array([[0.5, 1.6], [1.0, 1.1]]),
    ]
    betti, threshold, scale = betti_numbers(diagrams, rel_lifetime=0.35)
    assert scale == 2.0 and threshold == pytest.approx(0.7)
    assert betti == (1, 2, 1)


def test_choose_n_pcs():
    assert choose_n_pcs(np.array([1.0, 0.9, 0.5, 0.2, 0.01, 0.001])) == 4
    assert choose_n_pcs(np.array([1.0, 0.001])) == 2
    assert choose_n_pcs(np.ones(20)) == 6
