"""Fixtures: the paper's 32 x 32 label grid and ideal tori on it (helpers live in analysis_helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_helpers import PERIOD
from threadpoolctl import threadpool_limits

from diffcomp.analysis.torus_tests import clifford_torus, standard_torus


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """These matrices are small: multi-threaded BLAS only adds contention on a shared CPU."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def grid_labels() -> np.ndarray:
    """The 1 024 integer labels (mu_x, mu_y) in 1..32, as used for evaluation."""
    g = np.arange(1.0, 33.0)
    gx, gy = np.meshgrid(g, g, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


@pytest.fixture(scope="session")
def clifford(grid_labels) -> np.ndarray:
    return clifford_torus(grid_labels, PERIOD)


@pytest.fixture(scope="session")
def torus3d(grid_labels) -> np.ndarray:
    return standard_torus(grid_labels, PERIOD)
