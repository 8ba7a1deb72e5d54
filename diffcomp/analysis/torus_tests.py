"""Orthogonality and parallelism tests of a torus representation (appendix B, after Cueva et al. 2021).

A torus can be embedded *factorized* (the Clifford torus ``(cos t1, sin t1, cos t2, sin t2)``: each
label on its own circle in its own plane) or *coupled* (the standard 3-D torus). The tests look at
**rings**: an *x-ring* fixes ``mu_x`` and sweeps ``mu_y`` (32 of them at N=32), a *y-ring* fixes
``mu_y``. Each ring's plane is spanned by its top two PCs. Three tests compare ordered pairs of rings:
``xy`` (an x-ring and a y-ring, both orders), ``xx`` and ``yy`` (two distinct rings of one kind), each
with every statistic below. The statistics are computed on the data and on an ideal Clifford torus and
an ideal 3-D torus (R=2, r=1) built on the *same* labels (same rings, same pairs), and each data
histogram is compared with the ideal's by the 1-D Wasserstein distance (Fig. 3, Fig. 8).

Statistics (per ordered pair: ring A, ring B):

* ``orth``, the paper's orthogonality: ``|cos|`` between PC i of A and PC j of B, all four (i, j).
* ``par``, the paper's parallelism (eq. 3): ``r = mean_h ||h - P P^T h||^2`` over ring B's points
  ``h``, with ``P`` ring A's plane (orthonormal basis).
* ``pcos``: the cosines of the two principal angles between the planes (singular values of
  ``P_A^T P_B``), i.e. ``|cos|`` between the PCs after each ring's basis is turned, within its own
  plane, to face the other's (principal vectors).

Our choices where appendix B is silent:

* **Space: the representation's top 4 PCs** (``n_pcs``), where the paper reports the rings live; the
  remaining directions only add noise to every ring's plane.
* **h is centred on its own ring's mean.** Rings of a Clifford torus are translates of each other;
  uncentred, parallel rings would read as their offset, not as parallel.
* **Scale.** r is not scale-free, so each representation (data and both ideals alike) is divided by
  its root-mean-square ring radius (``sqrt(mean over rings of mean ||h||^2)``): rings then have unit
  mean-square radius on average, as the ideal Clifford torus's unit circles do. The ideal 3-D torus
  keeps its unequal rings (meridians of radius 1, parallels of radius 1..3), which is what r sees.
* **Pairs: all ordered pairs** (2 048 xy, 992 xx and 992 yy on the 32 x 32 grid), the population the
  paper's random draws sample from, so the histograms carry no sampling noise (``n_pairs`` draws a
  seeded subset instead). All four PC pairs (i, j) enter ``orth``: that is what "pairwise angles
  between each rings' principal components" reads as, and it needs no matching of PCs across rings.
* **The verdict uses ``pcos`` and ``par``**, not ``orth``: a ring sampled evenly around a circle is
  isotropic, its two PCs are degenerate and any rotation of them in the plane is as valid. Per-PC
  cosines then depend on that arbitrary rotation: for the ideal tori on a full grid it is set by
  floating-point round-off (identical x-rings get identical bases: x-on-x ``orth`` = {0, 1}), for
  noisy data by the noise (spread over [0, 1]). Measured (1 024 points in 256-D): a noisy Clifford
  torus sat at W_orth = 0.24 per x-on-x / y-on-y test (0.47 summed) from the ideal Clifford torus, a
  noisy 3-D torus at 0.52 summed from the ideal 3-D torus, against <= 0.012 for W_pcos and W_par.
  Principal angles and r depend on the planes only. ``orth`` is still computed and compared, as the
  paper's statistic. Verdict: the ideal with the smaller ``W_pcos + W_par`` summed over the tests.

Ideal values (both ideals, after scaling). Clifford: xy pcos (0, 0), orth 0, r 1; xx and yy pcos
(1, 1), r 0. 3-D torus (mean-square ring radius 2.75): xy pcos (1, 0), r = 1/2 / 2.75 (a meridian
onto a parallel's plane) or rho^2/2 / 2.75 (a parallel of radius rho onto a meridian's plane);
xx pcos (1, |cos dt1|), r = sin^2(dt1)/2 / 2.75; yy pcos (1, 1), r 0.

**Collapsed representations get no torus verdict.** When every ring of both labels lies in one
plane (a 2-D map folded onto itself: participation ratio near 2), the data sit at the same
Wasserstein distance from nothing in particular, and the verdict would be whichever ideal happens to
be closer. Both ideals keep an x-ring's plane and a y-ring's plane apart in at least one direction
(the smaller principal cosine is 0 for the Clifford torus and for the 3-D torus alike); a collapsed
map has them coincide (1). ``plane_overlap`` is the mean smaller principal cosine over the xy pairs,
and at or above :data:`COLLAPSE_OVERLAP` (halfway between the two) the verdict is ``"collapsed"``.
The rule reads the rings, not the participation ratio, because an ideal 3-D torus (R=2, r=1) has a
participation ratio of only 2.4 and must still read "3d".

The tests need a periodic label space (``period``): without one the representation is no torus.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from diffcomp.analysis.geometry import as_matrix, pca

TESTS = ("xy", "xx", "yy")
STATISTICS = ("orth", "pcos", "par")  # paper's per-PC cosines, principal cosines, paper's r
VERDICT_STATISTICS = ("pcos", "par")
IDEALS = ("clifford", "3d")
COLLAPSE_OVERLAP = 0.5  # mean smaller xy principal cosine: ideals 0, a map folded into one plane 1


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


def ring_geometry(points: np.ndarray, ring_indices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per ring: its plane (top-2 PC basis) ``[R, k, 2]`` and the covariance of its centred points ``[R, k, k]``.

    The covariance is all that r needs: ``mean_h ||h - P P^T h||^2 = tr(C) - tr(P^T C P)``.
    """
    planes, covariances = [], []
    for idx in ring_indices:
        h = points[idx] - points[idx].mean(axis=0)
        _, _, vt = np.linalg.svd(h, full_matrices=False)
        planes.append(vt[:2].T)
        covariances.append(h.T @ h / len(h))
    return np.stack(planes), np.stack(covariances)


def pc_cosines(plane_a: np.ndarray, plane_b: np.ndarray) -> np.ndarray:
    """The paper's orthogonality: ``|cos|`` between every PC of A and every PC of B (``[..., 4]``)."""
    return np.abs(np.swapaxes(plane_a, -1, -2) @ plane_b).reshape(*plane_a.shape[:-2], 4)


def principal_cosines(plane_a: np.ndarray, plane_b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between subspaces with orthonormal bases (columns), descending."""
    return np.clip(np.linalg.svd(np.swapaxes(plane_a, -1, -2) @ plane_b, compute_uv=False), 0.0, 1.0)


def reconstruction_error(covariance_b: np.ndarray, plane_a: np.ndarray) -> np.ndarray:
    """The paper's r (eq. 3): ring B's mean squared residual ``||h - P P^T h||^2`` off ring A's plane ``P``."""
    kept = np.einsum("...ki,...kl,...li->...", plane_a, covariance_b, plane_a)
    return np.clip(np.trace(covariance_b, axis1=-2, axis2=-1) - kept, 0.0, None)


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
    points: np.ndarray, ring_indices: list[np.ndarray], pairs: dict[str, np.ndarray], n_pcs: int | None = 4
) -> dict[str, dict[str, np.ndarray]]:
    """``orth`` (4 per pair), ``pcos`` (2 per pair) and ``par`` (1 per pair) per test, in the top ``n_pcs``.

    The points are projected on their top ``n_pcs`` PCs (``None``: all) and scaled to unit
    root-mean-square ring radius (module docstring).
    """
    x = as_matrix(points)
    if n_pcs is not None:
        x = pca(x, n_pcs).projections
    planes, covariances = ring_geometry(x, ring_indices)
    mean_square_radius = float(np.mean(np.trace(covariances, axis1=1, axis2=2)))
    if mean_square_radius > 0:
        covariances = covariances / mean_square_radius
    out = {}
    for name, p in pairs.items():
        a, b = planes[p[:, 0]], planes[p[:, 1]]
        out[name] = {
            "orth": pc_cosines(a, b).reshape(-1),
            "pcos": principal_cosines(a, b).reshape(-1),
            "par": reconstruction_error(covariances[p[:, 1]], a),
        }
    return out


def plane_overlap(statistics: dict[str, dict[str, np.ndarray]]) -> float:
    """Mean over the xy pairs of the *smaller* principal cosine between an x-ring's and a y-ring's
    plane: 0 when the two kinds of ring keep a direction of their own (both ideal tori), 1 when they
    share one plane."""
    smaller = statistics["xy"]["pcos"].reshape(-1, 2)[:, 1]
    return float(np.mean(smaller))


def torus_tests(
    activations: np.ndarray,
    labels: np.ndarray,
    *,
    period: float,
    n_pcs: int | None = 4,
    n_pairs: int | None = None,
    seed: int = 0,
) -> dict:
    """Run the three tests on the data and on both ideal tori; compare histograms; give a verdict.

    Returns ``{"data"|"clifford"|"3d": {test: {"orth"|"pcos"|"par": array}},
    "wasserstein": {f"{stat}_{test}_{ideal}": float, f"{stat}_{ideal}": float (summed over tests),
    ideal: float (summed over the verdict's statistics)}, "plane_overlap": float,
    "verdict": "clifford" | "3d" | "collapsed", "n_rings": (n_x, n_y)}``.
    """
    if period is None:
        raise ValueError("the torus tests need a periodic label space (period=None: not a torus)")
    labels = np.asarray(labels, dtype=np.float64)
    x_rings, y_rings = rings(labels, 0), rings(labels, 1)
    if len(x_rings) < 2 or len(y_rings) < 2:
        raise ValueError("torus tests need at least two x-rings and two y-rings of >= 3 points")
    ring_indices = x_rings + y_rings
    pairs = sample_pairs(len(x_rings), len(y_rings), n_pairs, seed)
    result = {
        "data": ring_statistics(activations, ring_indices, pairs, n_pcs),
        "clifford": ring_statistics(clifford_torus(labels, period), ring_indices, pairs, n_pcs),
        "3d": ring_statistics(standard_torus(labels, period), ring_indices, pairs, n_pcs),
    }
    distances: dict[str, float] = {}
    for ideal in IDEALS:
        for stat in STATISTICS:
            for test in TESTS:
                distances[f"{stat}_{test}_{ideal}"] = float(
                    wasserstein_distance(result["data"][test][stat], result[ideal][test][stat])
                )
            distances[f"{stat}_{ideal}"] = sum(distances[f"{stat}_{t}_{ideal}"] for t in TESTS)
        distances[ideal] = sum(distances[f"{stat}_{ideal}"] for stat in VERDICT_STATISTICS)
    result["wasserstein"] = distances
    result["plane_overlap"] = plane_overlap(result["data"])
    if result["plane_overlap"] >= COLLAPSE_OVERLAP:
        result["verdict"] = "collapsed"  # both labels' rings in one plane: neither torus (module docstring)
    else:
        result["verdict"] = "clifford" if distances["clifford"] <= distances["3d"] else "3d"
    result["n_rings"] = (len(x_rings), len(y_rings))
    return result
