"""Persistent homology (H0..H2) of a representation and the Betti numbers it implies.

The paper (Fig. 2b) checks that a layer's activations form a torus: one H0, two H1 and one H2 bar
that live long. A plain Vietoris-Rips complex of 1 024 points is hopeless (tens of millions of
simplices, NOTES.md), so we shrink the problem, keeping the long bars:

1. **PCA to a few dimensions.** Keep the PCs whose eigenvalue is at least ``rel_eigenvalue`` (5 %) of
   the first, between ``min_pcs`` (2) and ``max_pcs`` (6). This drops isotropic noise: in a 256-D
   embedding every noise direction has a tiny eigenvalue, but together they add a near-constant
   offset to all distances and fatten the manifold, which both blurs the diagram and makes every
   complex explode. (A cumulative-variance rule would keep those noise directions.)
2. **Farthest-point landmarks** (``n_landmarks``, 400, seeded start). A greedy farthest-point net is
   near-uniform and its spacing stays well below the torus's circles; it cuts the complex ~3x
   against all 1 024 points with no loss of the long bars.
3. **Sparse Rips** (``gudhi.RipsComplex(..., sparse=1.0)``, Cavanna-Jahanseir-Sheehy): a complex of
   size linear in the number of points whose diagram approximates the Rips diagram up to a
   multiplicative factor; bars spanning the torus's scale survive, short ones may shift. We expand to
   3-simplices so that H2 classes can die.
4. **A simplex budget** (``max_simplices``, 2e6 ~ 2-3 s here). A torus needs ~3e5 simplices, but a
   thick cloud filling 6 PCs would need ~4e7 (a minute). The complex's size is bounded from its
   1-skeleton before expanding, and the landmark set is cut (a prefix of a farthest-point order is
   again a net) until it fits.

An alpha complex would be exact and fast on <= 3-4 PCs, but learned tori are often spread over more
PCs (the paper measures an effective dimension ~7), where Delaunay triangulations blow up.

**Betti numbers.** ``beta_d`` counts the H_d bars whose lifetime (death - birth) exceeds
``rel_lifetime * s`` (``rel_lifetime`` = 0.35), where ``s`` is the largest finite death among the
H1 and H2 bars: the filtration value at which the last loop or void has been filled, i.e. the size of
the shape's largest feature. The rule reads "features that persist over at least 35 % of the shape's
scale"; infinite bars (the one H0 bar of a connected cloud) always count. Calibration, 50 seeds
each, 1 024 points: on the 32 x 32 label grid (Clifford and 3-D tori in 256-D with noise, a jittered
3-D torus), on a Clifford torus at uniformly random angles and on circles, the real bars last
>= 0.38 s and the noise bars <= 0.33 s (no failures at 0.35; about 1 random Clifford sample in 50
has a sampling hole reaching the cut). Known limits: a 3-D torus (R=2, r=1) at uniformly random
*angles* samples its outer side 3x more sparsely than its tube; its void's bar then falls to
0.2-0.4 s and the reading fails ~40 % of the time (no setting we tried fixes that: the data are too
sparse). In a structureless high-dimensional cloud nearest-neighbour gaps are comparable to the
cloud's size, so beta_0 becomes large: a symptom of no low-dimensional structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import gudhi
import numpy as np
from scipy.special import comb

from diffcomp.analysis.geometry import as_matrix, pca


@dataclass(frozen=True)
class Persistence:
    """Persistence diagrams and the Betti numbers read off them."""

    diagrams: list[np.ndarray]  # per homology dimension d: [n_d, 2] (birth, death), death may be inf
    betti: tuple[int, ...]
    lifetime_threshold: float  # bars longer than this are counted
    scale: float  # largest finite death among H1, H2 (H0 when those are empty)
    n_pcs: int
    n_points: int
    n_simplices: int


def choose_n_pcs(
    eigenvalues: np.ndarray, rel_eigenvalue: float = 0.05, min_pcs: int = 2, max_pcs: int = 6
) -> int:
    """Number of PCs with eigenvalue >= ``rel_eigenvalue`` x the largest, clipped to [min_pcs, max_pcs]."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n = int(np.sum(lam >= rel_eigenvalue * lam[0])) if len(lam) and lam[0] > 0 else 0
    return min(max(n, min_pcs), max_pcs, len(lam))


def reduce_points(
    points: np.ndarray,
    *,
    n_pcs: int | None = None,
    rel_eigenvalue: float = 0.05,
    min_pcs: int = 2,
    max_pcs: int = 6,
    n_landmarks: int | None = 400,
    seed: int = 0,
) -> np.ndarray:
    """Project to a few PCs and order (and cap at ``n_landmarks``) the points farthest-first.

    The farthest-point order makes every prefix a near-uniform net, so the simplex budget of
    :func:`persistence_diagrams` can shrink the set by truncation. The start point is seeded.
    """
    fit = pca(points, max_pcs if n_pcs is None else n_pcs)
    k = n_pcs if n_pcs is not None else choose_n_pcs(fit.eigenvalues, rel_eigenvalue, min_pcs, max_pcs)
    k = min(k, fit.projections.shape[1])
    reduced = fit.projections[:, :k]
    count = len(reduced) if n_landmarks is None else min(n_landmarks, len(reduced))
    start = int(np.random.default_rng(seed).integers(len(reduced)))
    return np.asarray(
        gudhi.subsampling.choose_n_farthest_points(points=reduced, nb_points=count, starting_point=start)
    ).reshape(count, k)


def _estimated_size(tree: gudhi.SimplexTree, n: int, top_dim: int) -> float:
    """Bound on the flag complex's size up to ``top_dim``, from its 1-skeleton alone.

    Order the vertices by degree and charge every clique to its first vertex: a j-simplex is then
    j of that vertex's *later* neighbours, so ``sum_v C(fwd_v, j)`` bounds the j-simplices. Charging
    to the low-degree end keeps the bound tight (the hubs of a sparse Rips would inflate a plain
    degree bound ~40x).
    """
    edges = np.array([s for s, _ in tree.get_skeleton(1) if len(s) == 2], dtype=np.int64).reshape(-1, 2)
    degree = np.bincount(edges.ravel(), minlength=n)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), degree))] = np.arange(n)
    first = np.where(rank[edges[:, 0]] < rank[edges[:, 1]], edges[:, 0], edges[:, 1])
    forward = np.bincount(first, minlength=n).astype(np.float64)
    return float(sum(comb(forward, j).sum() for j in range(top_dim + 1)))


def persistence_diagrams(
    points: np.ndarray,
    max_dim: int = 2,
    sparse: float | None = 1.0,
    seed: int = 0,
    max_simplices: float = 2e6,
    min_points: int = 50,
) -> tuple[list[np.ndarray], int, int]:
    """Rips persistence up to H_max_dim; returns (diagrams, n_simplices, n_points used).

    Keeps time bounded (~1-2 us per simplex here): while the estimated complex exceeds
    ``max_simplices`` the point set is cut to 70 % of its prefix, so pass points in farthest-point
    order (:func:`reduce_points`). Tori and circles never hit the budget; thick high-dimensional
    blobs, whose sparse Rips grows steeply with dimension, do.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    while True:
        gudhi.random.set_seed(seed)
        tree = gudhi.RipsComplex(points=points[:n], sparse=sparse).create_simplex_tree(max_dimension=1)
        if n <= min_points or _estimated_size(tree, n, max_dim + 1) <= max_simplices:
            break
        n = max(min_points, int(0.7 * n))
    tree.expansion(max_dim + 1)
    tree.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
    diagrams = [
        np.asarray(tree.persistence_intervals_in_dimension(d), dtype=np.float64).reshape(-1, 2)
        for d in range(max_dim + 1)
    ]
    return diagrams, int(tree.num_simplices()), n


def betti_numbers(diagrams: list[np.ndarray], rel_lifetime: float = 0.35) -> tuple[tuple[int, ...], float, float]:
    """Count bars longer than ``rel_lifetime`` x the scale; returns (betti, threshold, scale).

    The scale is the largest finite death among H1.. (when the last loop or void fills: the size of
    the largest feature); only without any such bar does it fall back to H0's largest finite death.
    H0 deaths are left out because they measure gaps between clusters, which say nothing about the
    size of a cluster's holes: two circles far apart still read (2, 2, 0).
    """
    finite = [dg[np.isfinite(dg[:, 1]), 1] for dg in diagrams]
    higher = np.concatenate(finite[1:]) if len(finite) > 1 else np.array([])
    pool = higher if len(higher) else (finite[0] if finite else np.array([]))
    scale = float(pool.max()) if len(pool) else 0.0
    threshold = rel_lifetime * scale
    betti = tuple(int(np.sum((dg[:, 1] - dg[:, 0]) > threshold)) for dg in diagrams)
    return betti, threshold, scale


def persistent_homology(
    points: np.ndarray,
    *,
    max_dim: int = 2,
    n_pcs: int | None = None,
    rel_eigenvalue: float = 0.05,
    max_pcs: int = 6,
    n_landmarks: int | None = 400,
    sparse: float | None = 1.0,
    rel_lifetime: float = 0.35,
    max_simplices: float = 2e6,
    seed: int = 0,
) -> Persistence:
    """PCA -> landmarks -> sparse Rips -> diagrams and Betti numbers (see the module docstring)."""
    reduced = reduce_points(
        as_matrix(points),
        n_pcs=n_pcs,
        rel_eigenvalue=rel_eigenvalue,
        max_pcs=max_pcs,
        n_landmarks=n_landmarks,
        seed=seed,
    )
    diagrams, n_simplices, n_used = persistence_diagrams(
        reduced, max_dim=max_dim, sparse=sparse, seed=seed, max_simplices=max_simplices
    )
    betti, threshold, scale = betti_numbers(diagrams, rel_lifetime)
    return Persistence(
        diagrams=diagrams,
        betti=betti,
        lifetime_threshold=threshold,
        scale=scale,
        n_pcs=int(reduced.shape[1]),
        n_points=n_used,
        n_simplices=n_simplices,
    )
