"""Synthetic representations with known answers, shared by the analysis tests."""

from __future__ import annotations

import numpy as np

PERIOD = 32.0  # the torus data's canvas: labels 1..32 wrap around


def embed(points: np.ndarray, dim: int, noise: float, seed: int) -> np.ndarray:
    """Isometric (orthonormal) embedding into ``dim`` dimensions plus isotropic Gaussian noise."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, points.shape[1])))
    return points @ basis.T + noise * rng.normal(size=(len(points), dim))


def rms_radius(points: np.ndarray) -> float:
    """Root-mean-square distance to the centroid (the topology's unit of length)."""
    return float(np.sqrt(np.sum(np.var(points, axis=0))))


def square_grid(n: int = 32) -> np.ndarray:
    """A flat n x n grid on the unit square (a non-periodic label space's sheet)."""
    g = np.linspace(0.0, 1.0, n)
    return np.stack([a.ravel() for a in np.meshgrid(g, g, indexing="ij")], axis=1)


def circle(n: int, seed: int) -> np.ndarray:
    t = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def sphere(n: int, seed: int) -> np.ndarray:
    p = np.random.default_rng(seed).normal(size=(n, 3))
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def ball(n: int, seed: int) -> np.ndarray:
    """Uniform points in the solid unit ball in 3-D."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    return p / np.linalg.norm(p, axis=1, keepdims=True) * rng.uniform(0, 1, (n, 1)) ** (1 / 3)


def two_sheets() -> np.ndarray:
    """The 32 x 32 grid cut into two 16 x 32 halves, each 1/2 x 1, moved 0.77 apart."""
    p = square_grid()
    p[:, 0] *= 0.5
    p[p[:, 0] > 0.25, 0] += 0.75
    return p


def two_balls(n: int, seed: int) -> np.ndarray:
    """Two solid unit balls whose centres are 4 apart."""
    p = ball(n, seed)
    p[n // 2 :, 0] += 4.0
    return p
