"""Synthetic representations with known answers, shared by the analysis tests."""

from __future__ import annotations

import numpy as np

PERIOD = 32.0  # the torus data's canvas: labels 1..32 wrap around


def embed(points: np.ndarray, dim: int, noise: float, seed: int) -> np.ndarray:
    """Isometric (orthonormal) embedding into ``dim`` dimensions plus isotropic Gaussian noise."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, points.shape[1])))
    return points @ basis.T + noise * rng.normal(size=(len(points), dim))
