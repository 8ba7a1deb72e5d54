"""Non-linear 3-D embedding of a representation with UMAP, for looking at its shape (preprint, Fig. 2).

umap-learn is imported lazily: its numba compilation costs seconds on first use, which callers that only
want the cheap statistics should not pay. ``random_state`` makes the layout reproducible (it also makes
umap-learn run single-threaded, which is fine at ~1 000 points).
"""

from __future__ import annotations

import warnings

import numpy as np

from diffcomp.analysis.geometry import as_matrix, pca


def umap_embedding(
    activations: np.ndarray,
    n_components: int = 3,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    n_pcs: int | None = 50,
    seed: int = 0,
) -> np.ndarray:
    """Seeded UMAP embedding ``[M, n_components]``.

    With ``n_pcs`` the data are first projected on their top PCs: this keeps the neighbour graph
    (what UMAP actually uses) while dropping the long tail of low-variance, mostly noise directions
    of a wide layer, and makes the distance computations ~100x cheaper at D = 4 096.
    """
    import umap

    x = as_matrix(activations)
    if n_pcs is not None and x.shape[1] > n_pcs:
        x = pca(x, n_pcs).projections
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=min(n_neighbors, len(x) - 1),
        min_dist=min_dist,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
        return np.asarray(reducer.fit_transform(x), dtype=np.float64)
