"""Orthogonality and parallelism tests of a torus representation (appendix B, after Cueva et al. 2021).

A torus can be embedded *factorized* (the Clifford torus ``(cos t1, sin t1, cos t2, sin t2)``: each
label on its own circle in its own plane) or *coupled* (the standard 3-D torus). The tests look at
**rings**: an *x-ring* fixes ``mu_x`` and sweeps ``mu_y`` (one per x value), a *y-ring* fixes ``mu_y``.
Each ring's plane is the span of its top-2 PCs (the ring's points centred on the ring's own mean).

* **Orthogonality** of rings A, B: the cosines of the two *principal angles* between their planes
  (singular values of ``U_A^T U_B``), both values per pair. Principal angles rather than cosines of
  PC1/PC2 pairs because a well-sampled ring is isotropic in its plane, so its individual PCs are an
  arbitrary rotation within it; the principal angles only depend on the planes. Clifford: x-on-y
  (0, 0), x-on-x and y-on-y (1, 1). 3-D torus: x-on-y (1, 0), x-on-x (1, |cos dt1|), y-on-y (1, 1).
* **Parallelism** of ring B onto ring A: ``r = ||H_B - H_B P_A P_A^T||_F^2 / ||H_B||_F^2`` with
  ``H_B`` ring B's centred points (rows) and ``P_A`` ring A's plane, i.e. the paper's
  ``||h - P P^T h||^2`` summed over B's points and normalised by B's variance, so ``r`` is the
  fraction of B's variance outside A's plane (0 = parallel, 1 = orthogonal), free of the layer's
  scale. Clifford: x-on-x 0, x-on-y 1. 3-D torus: x-on-x ``sin^2(dt1)/2``, y-on-y 0, x-on-y 1/2.

Tests: ``xy`` (x-ring vs y-ring, both orders), ``xx`` and ``yy`` (ordered pairs of distinct rings).
The same statistics are computed for an ideal Clifford and an ideal 3-D torus placed on the *same*
label grid (same rings, same sampled pairs), and each data histogram is compared to the ideal one
with the 1-D Wasserstein distance. The verdict is the ideal with the smaller summed distance.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from diffcomp.analysis.geometry import as_matrix

TESTS = ("xy", "xx", "yy")
STATISTICS = ("orth", "par")
IDEALS = ("clifford", "3d")


def label_angles(labels: np.ndarray, period: float | None = None) -> np.ndarray:
    """Map labels to angles ``[M, 2]`` in radians.

    With a ``period`` (torus data): ``2 pi mu / period``. Without one, each axis's grid is closed
    into a circle: ``period = max - min + step`` (``step`` the smallest gap between distinct
    values), so the 1..32 grid maps exactly as with period 32 and no two grid values coincide.
    """
    labels = np.asarray(labels, dtype=np.float64)
    if period is not None:
        return 2 * np.pi * labels / period
    angles = np.empty_like(labels)
    for axis in range(labels.shape[1]):
        values = np.unique(labels[:, axis])
        step = float(np.min(np.diff(values))) if len(values) > 1 else 1.0
        span = values[-1] - values[0] + step
        angles[:, axis] = 2 * np.pi * (labels[:, axis] - values[0]) / span
    return angles


def clifford_torus(labels: np.ndarray, period: float | None = None) -> np.ndarray:
    """Ideal factorized torus ``(cos t1, sin t1, cos t2, sin t2)`` on the given labels."""
    t = label_angles(labels, period)
    return np.stack([np.cos(t[:, 0]), np.sin(t[:, 0]), np.cos(t[:, 1]), np.sin(t[:, 1])], axis=1)


def standard_torus(
    labels: np.ndarray, period: float | None = None, major: float = 2.0, minor: float = 1.0
) -> np.ndarray:
    """Ideal coupled torus in R^3; t1 (x) runs around the big circle, t2 (y) around the tube."""
    t = label_angles(labels, period)
    tube = major + minor * np.cos(t[:, 1])
    return np.stack([tube * np.cos(t[:, 0]), tube * np.sin(t[:, 0]), minor * np.sin(t[:, 1])], axis=1)


def rings(labels: np.ndarray, axis: int, min_points: int = 3) -> list[np.ndarray]:
    """Index sets of the rings that fix ``labels[:, axis]`` (sorted by that value)."""
    values = np.round(np.asarray(labels, dtype=np.float64)[:, axis], 6)
    groups = [np.flatnonzero(values == v) for v in np.unique(values)]
    return [g for g in groups if len(g) >= min_points]


def enough_rings(labels: np.ndarray) -> bool:
    """Whether the labels form >= 2 x-rings and >= 2 y-rings of >= 3 points (else the tests are void)."""
    return len(rings(labels, 0)) >= 2 and len(rings(labels, 1)) >= 2


def ring_planes(
    points: np.ndarray, ring_indices: list[np.ndarray], dim: int = 2
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per ring: its top-``dim`` PC basis ``[D, dim]`` and its centred points ``[n, D]``."""
    planes, centred = [], []
    for idx in ring_indices:
        h = points[idx] - points[idx].mean(axis=0)
        _, _, vt = np.linalg.svd(h, full_matrices=False)
        planes.append(vt[:dim].T)
        centred.append(h)
    return planes, centred


def principal_cosines(plane_a: np.ndarray, plane_b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between two subspaces with orthonormal bases (columns)."""
    return np.clip(np.linalg.svd(plane_a.T @ plane_b, compute_uv=False), 0.0, 1.0)


def parallelism_error(centred_b: np.ndarray, plane_a: np.ndarray) -> float:
    """Fraction of ring B's variance left after projecting onto ring A's plane."""
    total = float(np.sum(centred_b**2))
    if total == 0:
        return 0.0
    residual = centred_b - (centred_b @ plane_a) @ plane_a.T
    return float(np.sum(residual**2) / total)


def sample_pairs(x_rings: int, y_rings: int, n_pairs: int | None, seed: int) -> dict[str, np.ndarray]:
    """Ordered ring pairs per test as ``[P, 2]`` arrays of indices into (x-rings + y-rings).

    All pairs are enumerated and, when ``n_pairs`` is smaller, a seeded subset is drawn, so the data
    and both ideal tori are compared on the very same pairs.
    """
    rng = np.random.default_rng(seed)
    xs, ys = np.arange(x_rings), x_rings + np.arange(y_rings)
    across = np.array([(a, b) for a in xs for b in ys] + [(b, a) for a in xs for b in ys]).reshape(-1, 2)
    pairs = {
        "xy": across,
        "xx": np.array([(a, b) for a in xs for b in xs if a != b]).reshape(-1, 2),
        "yy": np.array([(a, b) for a in ys for b in ys if a != b]).reshape(-1, 2),
    }
    for name, p in pairs.items():
        if n_pairs is not None and len(p) > n_pairs:
            pairs[name] = p[np.sort(rng.choice(len(p), size=n_pairs, replace=False))]
    return pairs


def ring_statistics(
    points: np.ndarray, ring_indices: list[np.ndarray], pairs: dict[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """Orthogonality (|cos| of principal angles, 2 per pair) and parallelism (1 per pair) per test."""
    planes, centred = ring_planes(as_matrix(points), ring_indices)
    out = {}
    for name, p in pairs.items():
        orth = np.array([principal_cosines(planes[a], planes[b]) for a, b in p]).reshape(-1)
        par = np.array([parallelism_error(centred[b], planes[a]) for a, b in p])
        out[name] = {"orth": orth, "par": par}
    return out


def torus_tests(
    activations: np.ndarray,
    labels: np.ndarray,
    *,
    period: float | None = None,
    n_pairs: int | None = 500,
    seed: int = 0,
) -> dict:
    """Run the three tests on the data and on both ideal tori; compare histograms; give a verdict.

    Returns ``{"data"|"clifford"|"3d": {test: {"orth": array, "par": array}},
    "wasserstein": {f"{stat}_{test}_{ideal}": float, f"{stat}_{ideal}": float, ideal: float},
    "verdict": "clifford" | "3d", "n_rings": (n_x, n_y)}``.
    """
    labels = np.asarray(labels, dtype=np.float64)
    x_rings, y_rings = rings(labels, 0), rings(labels, 1)
    if len(x_rings) < 2 or len(y_rings) < 2:
        raise ValueError("torus tests need at least two x-rings and two y-rings of >= 3 points")
    ring_indices = x_rings + y_rings
    pairs = sample_pairs(len(x_rings), len(y_rings), n_pairs, seed)
    result = {
        "data": ring_statistics(activations, ring_indices, pairs),
        "clifford": ring_statistics(clifford_torus(labels, period), ring_indices, pairs),
        "3d": ring_statistics(standard_torus(labels, period), ring_indices, pairs),
    }
    distances: dict[str, float] = {}
    for ideal in IDEALS:
        for stat in STATISTICS:
            for test in TESTS:
                distances[f"{stat}_{test}_{ideal}"] = float(
                    wasserstein_distance(result["data"][test][stat], result[ideal][test][stat])
                )
            distances[f"{stat}_{ideal}"] = sum(distances[f"{stat}_{t}_{ideal}"] for t in TESTS)
        distances[ideal] = distances[f"orth_{ideal}"] + distances[f"par_{ideal}"]
    result["wasserstein"] = distances
    result["verdict"] = "clifford" if distances["clifford"] <= distances["3d"] else "3d"
    result["n_rings"] = (len(x_rings), len(y_rings))
    return result
