"""Persistent homology (H0..H2) of a representation and the Betti numbers it implies.

The paper (Fig. 2b) checks that a layer's activations form a torus: one H0, two H1 and one H2 bar
that live long; a model of non-periodic bumps should instead show a sheet, (1, 0, 0). A plain
Vietoris-Rips complex of 1 024 points is hopeless (tens of millions of simplices, NOTES.md), so we
shrink the problem, keeping the long bars:

1. **PCA to a few dimensions.** Keep the PCs whose eigenvalue is at least ``rel_eigenvalue`` (5 %) of
   the first, between ``min_pcs`` (2) and ``max_pcs`` (6). This drops isotropic noise: in a 256-D
   embedding every noise direction has a tiny eigenvalue, but together they add a near-constant
   offset to all distances and fatten the manifold, which both blurs the diagram and makes every
   complex explode. (A cumulative-variance rule would keep those noise directions.)
2. **H0 exactly, from all points.** H0 of any Rips filtration is single linkage: one bar per edge of
   the Euclidean minimum spanning tree (born 0, dying at the edge's length) plus one infinite bar.
   We compute it on all projected points (Prim, O(M^2 k), ~20-40 ms); the landmark complex below
   would report the landmarks' spacing instead, ~2x longer noise bars. The same tree gives the share
   of the points in the largest component at the Betti cut (``largest_component``), which tells
   two halves (0.5) from one piece with stray samples (close to 1).
3. **Farthest-point landmarks** (``n_landmarks``, 300, seeded start) for H1 and H2. A greedy
   farthest-point net is near-uniform and every prefix of its order is again a net.
4. **Sparse Rips** (``gudhi.RipsComplex(..., sparse=0.8)``, Cavanna-Jahanseir-Sheehy): a complex of
   size linear in the number of points whose diagram approximates the Rips diagram up to a factor
   ``1 + sparse`` in scale, expanded to 3-simplices so that H2 classes can die. The approximation is
   multiplicative, so noise bars stretch in proportion to their scale however dense the landmarks:
   ``sparse=1.0`` with 400 landmarks left noise bars up to 0.36 radii (a sphere's H1) against 0.45
   for the 3-D torus's void; ``0.8`` with 300 landmarks cuts them to 0.26 for ~2.5x the simplices
   (8e5 for a Clifford torus, 0.6-1 s here); ``0.5`` would cost another 5-10x.
5. **A simplex budget** (``max_simplices``, 2e6 ~ 2-3 s here). A thick cloud filling 6 PCs would need
   ~1e8 simplices; the complex's size is bounded from its 1-skeleton before expanding, and the
   landmark set is cut (a prefix of a farthest-point order) until it fits.

An alpha complex would be exact and is fast on <= 4 PCs, but learned tori are often spread over more
PCs (the paper measures an effective dimension ~7), where Delaunay triangulations blow up (a 6-D
cloud of 400 points: 2.5e6 simplices, 25 s), and gudhi's fast alpha mis-reads exact lattices.

**Betti numbers.** Lengths are measured in units of the cloud's **radius** ``s``: the root-mean-square
distance of the projected points to their centroid (the square root of the kept PCs' variance).
Every shape has one, it is robust (one outlier moves it by ~1/M), and unlike the largest H1/H2 death
it does not vanish for a sheet, whose only bars are noise (the previous rule read a flat 32 x 32 grid
as (207, 3, 0)). Unlike the diameter it does not penalise elongated shapes: a 3-D torus (R=2, r=1)
is 6 wide, but its tube radius, the size of its H1/H2 features, is 1/6 of that and 0.45 radii; in
units of the diameter the 3-D torus's void (>= 0.16) and a sphere's noise loops (<= 0.18) overlapped.
The diagram is read in the **window** of scales ``[0, window * s]`` (``window`` = 1.5): a bar's
lifetime is ``min(death, window s) - birth`` (0 if born later). Real features are born at the
sampling scale and die by ~1.5 s (Clifford torus 1.44 s); beyond, the sparse complex keeps a handful
of landmarks and makes loops of its own (two separate sheets joined by two long edges: a loop of
lifetime 0.4 s).
``beta_d`` counts the H_d bars whose windowed lifetime exceeds ``rel_lifetime * s`` (0.35); the
infinite H0 bar always counts.

Calibration (``persistent_homology`` defaults, 1 024 points, 20 seeds per shape at each noise level
0, 0.01 and 0.03 x radius per dimension, random orthonormal embedding in 256-D; lifetimes / s)::

    shape (expected Betti)             shortest expected bar   longest other bar
    flat 32 x 32 sheet (1, 0, 0)       -                       0.15 (H1)
    circle, random angles (1, 1, 0)    1.42 (H1)               0.09 (H0)
    Clifford torus, grid (1, 2, 1)     0.89 (H2)               0.21 (H1)
    3-D torus, grid (1, 2, 1)          0.45 (H2)               0.21 (H1)
    sphere, random (1, 0, 1)           0.97 (H2)               0.26 (H1)
    two half-sheets 0.77 apart (2,0,0) 1.14 (H0)               0.25 (H1)
    two unit balls 4 apart (2, 0, 0)   0.89 (H0)               0.15 (H0)

All 420 readings are right; the cut (0.35) lies 1.29x below the shortest real bar and 1.35x above
the longest noise bar. Also right (240 more): a Clifford torus at random angles (>= 0.62 / <= 0.33),
a jittered 3-D torus grid (>= 0.38 / <= 0.23), a random sheet (<= 0.22), two circles (2, 2, 0)
(>= 0.41 / <= 0.14). At noise 0.05 (10 seeds) still all right, but the 3-D torus's shortest bar
falls to 0.353; at 0.1 the tori and the sphere fail: the top noise eigenvalues, inflated
(1 + sqrt(D/M))^2 = 2.25x by sampling, pass the 5 % PC cut and three noise PCs scatter the points
(beta_0 = 16-45).

On a real layer, the quick default's model (16 x 16 bumps, 256 samples, 5 PCs kept), the rule reads
(36, 0, 0) with 72 % of the points in one piece: the layer keeps mu_x = 1..11 (and 16) as one sheet
but tears mu_x = 12..15 into a group per column (and stray samples), 0.55-0.77 radii apart, far more
than the sheet's own gaps. That is the layer's geometry, not noise of the reading; ``largest_component``
and ``persistence_h0_2`` (the longest finite H0 bar) in the report say how torn a sheet is.

Known limits: a shape whose features are much smaller than its radius (a thin 3-D torus, R >> r; a
Clifford torus with very unequal circles; two clusters closer than 0.35 s) reads as simpler than it
is. A 3-D torus at uniformly random *angles* samples its outer side 3x more sparsely than its tube:
its void lasts 0.24-0.46 s and 1 sample in 10 reads (1, 2, 0). In a structureless high-dimensional
cloud nearest-neighbour gaps are comparable to the cloud's size, so beta_0 becomes large: a symptom
of no low-dimensional structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import gudhi
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import comb

from diffcomp.analysis.geometry import as_matrix, pca


@dataclass(frozen=True)
class Persistence:
    """Persistence diagrams and the Betti numbers read off them."""

    diagrams: list[np.ndarray]  # per homology dimension d: [n_d, 2] (birth, death), death may be inf
    betti: tuple[int, ...]
    lifetime_threshold: float  # bars whose windowed lifetime exceeds this are counted
    scale: float  # the projected cloud's radius (rms distance to the centroid): the unit of lengths
    window: float  # bars are read on the filtration values [0, window]
    largest_component: float  # share of the points in the largest of the beta_0 components
    n_pcs: int
    n_points: int  # landmarks in the H1/H2 complex (H0 uses all points)
    n_simplices: int


def choose_n_pcs(eigenvalues: np.ndarray, rel_eigenvalue: float = 0.05, min_pcs: int = 2, max_pcs: int = 6) -> int:
    """Number of PCs with eigenvalue >= ``rel_eigenvalue`` x the largest, clipped to [min_pcs, max_pcs]."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n = int(np.sum(lam >= rel_eigenvalue * lam[0])) if len(lam) and lam[0] > 0 else 0
    return min(max(n, min_pcs), max_pcs, len(lam))


def project(
    points: np.ndarray,
    *,
    n_pcs: int | None = None,
    rel_eigenvalue: float = 0.05,
    min_pcs: int = 2,
    max_pcs: int = 6,
) -> np.ndarray:
    """Scores on the top PCs (``n_pcs``, or as many as :func:`choose_n_pcs` keeps), ``[M, k]``."""
    fit = pca(points, max_pcs if n_pcs is None else n_pcs)
    k = n_pcs if n_pcs is not None else choose_n_pcs(fit.eigenvalues, rel_eigenvalue, min_pcs, max_pcs)
    return fit.projections[:, : min(k, fit.projections.shape[1])]


def radius(points: np.ndarray) -> float:
    """Root-mean-square distance of the points to their centroid: the unit of the Betti rule."""
    points = np.asarray(points, dtype=np.float64)
    return float(np.sqrt(np.sum(points.var(axis=0)))) if len(points) else 0.0


def farthest_points(points: np.ndarray, n_landmarks: int | None = 300, seed: int = 0) -> np.ndarray:
    """The points in farthest-first order (capped at ``n_landmarks``), from a seeded start.

    Every prefix is a near-uniform net, so the simplex budget of :func:`persistence_diagrams` can
    shrink the set by truncation.
    """
    count = len(points) if n_landmarks is None else min(n_landmarks, len(points))
    start = int(np.random.default_rng(seed).integers(len(points)))
    order = gudhi.subsampling.choose_n_farthest_points(points=points, nb_points=count, starting_point=start)
    return np.asarray(order, dtype=np.float64).reshape(count, points.shape[1])


def spanning_tree(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean minimum spanning tree: edges ``[M-1, 2]`` and their lengths ``[M-1]``.

    Prim's algorithm with distances computed on the fly (memory O(M)); duplicate points are joined by
    zero-length edges (scipy's dense MST would read a zero distance as no edge).
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    best, parent = np.full(n, np.inf), np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    edges, lengths = np.zeros((max(n - 1, 0), 2), dtype=np.int64), np.zeros(max(n - 1, 0))
    current = 0
    for i in range(n - 1):
        done[current] = True
        distance = np.sqrt(np.sum((points - points[current]) ** 2, axis=1))
        closer = distance < best
        best[closer], parent[closer] = distance[closer], current
        best[done] = np.inf
        current = int(np.argmin(best))
        edges[i], lengths[i] = (parent[current], current), best[current]
    return edges, lengths


def h0_diagram(points: np.ndarray) -> np.ndarray:
    """Exact H0 diagram of the Rips filtration: the minimum spanning tree's edges, plus one infinite bar."""
    return _h0_bars(spanning_tree(points)[1]) if len(points) else np.zeros((0, 2))


def _h0_bars(lengths: np.ndarray) -> np.ndarray:
    """H0 bars (born 0) dying at the spanning tree's edge lengths, longest first, then the infinite one."""
    deaths = np.concatenate([np.sort(lengths)[::-1], [np.inf]])
    return np.stack([np.zeros(len(deaths)), deaths], axis=1)


def largest_component_share(edges: np.ndarray, lengths: np.ndarray, n: int, cut: float) -> float:
    """Share of the ``n`` points in the largest piece when the spanning tree's edges longer than ``cut`` go.

    The companion of beta_0: whether the extra components are halves of the cloud or stray samples.
    """
    if n == 0:
        return 0.0
    short = edges[lengths <= cut]
    graph = coo_matrix((np.ones(len(short)), (short[:, 0], short[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return float(np.bincount(labels).max() / n)


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
    sparse: float | None = 0.8,
    seed: int = 0,
    max_simplices: float = 2e6,
    min_points: int = 50,
) -> tuple[list[np.ndarray], int, int]:
    """Sparse Rips persistence up to H_max_dim; returns (diagrams, n_simplices, n_points used).

    Keeps time bounded (~1-2 us per simplex here): while the estimated complex exceeds
    ``max_simplices`` the point set is cut to 70 % of its prefix, so pass points in farthest-point
    order (:func:`farthest_points`). Tori, spheres and sheets never hit the budget; thick
    high-dimensional blobs, whose sparse Rips grows steeply with dimension, do.
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


def lifetimes(diagram: np.ndarray, window: float = np.inf) -> np.ndarray:
    """Lifetimes of the bars read on the filtration values ``[0, window]``, in the diagram's order.

    ``min(death, window) - birth``, and 0 for bars born at or after ``window``; an infinite bar
    lasts until the window closes (``inf`` for an infinite window).
    """
    diagram = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    return np.where(diagram[:, 0] < window, np.minimum(diagram[:, 1], window) - diagram[:, 0], 0.0)


def betti_numbers(
    diagrams: list[np.ndarray], rel_lifetime: float = 0.35, *, scale: float, window: float = 1.5
) -> tuple[tuple[int, ...], float, float]:
    """Count bars living longer than ``rel_lifetime * scale`` in the window ``[0, window * scale]``.

    Returns ``(betti, threshold, scale)``. ``scale`` is the cloud's :func:`radius` (see the module
    docstring for why, and for the calibration). Infinite bars always count.
    """
    threshold = rel_lifetime * scale
    diagrams = [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in diagrams]
    betti = tuple(int(np.sum(np.isinf(d[:, 1]) | (lifetimes(d, window * scale) > threshold))) for d in diagrams)
    return betti, threshold, scale


def persistent_homology(
    points: np.ndarray,
    *,
    max_dim: int = 2,
    n_pcs: int | None = None,
    rel_eigenvalue: float = 0.05,
    max_pcs: int = 6,
    n_landmarks: int | None = 300,
    sparse: float | None = 0.8,
    rel_lifetime: float = 0.35,
    window: float = 1.5,
    max_simplices: float = 2e6,
    seed: int = 0,
) -> Persistence:
    """PCA -> exact H0 + landmarks -> sparse Rips H1.. -> Betti numbers (see the module docstring)."""
    reduced = project(as_matrix(points), n_pcs=n_pcs, rel_eigenvalue=rel_eigenvalue, max_pcs=max_pcs)
    landmarks = farthest_points(reduced, n_landmarks, seed)
    diagrams, n_simplices, n_used = persistence_diagrams(
        landmarks, max_dim=max_dim, sparse=sparse, seed=seed, max_simplices=max_simplices
    )
    edges, lengths = spanning_tree(reduced)
    diagrams[0] = _h0_bars(lengths)
    s = radius(reduced)
    betti, threshold, _ = betti_numbers(diagrams, rel_lifetime, scale=s, window=window)
    return Persistence(
        diagrams=diagrams,
        betti=betti,
        lifetime_threshold=threshold,
        scale=s,
        window=window * s,
        largest_component=largest_component_share(edges, lengths, len(reduced), threshold),
        n_pcs=int(reduced.shape[1]),
        n_points=n_used,
        n_simplices=n_simplices,
    )
