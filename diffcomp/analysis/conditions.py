"""Condition-direction orthogonality: do the layer's x- and y-conditions move it in separate directions?

Following the orthogonality heuristic for disentanglement (related work, Sec. 7.1): for every condition
value ``c`` (each x value, each y value) take the mean activation ``mu_c`` over the samples with that
value, and its displacement ``d_c = mu_c - mu`` from the grand mean ``mu`` (all samples: the
unconditional mean). Pairwise orthogonality of the ``d_c`` is necessary for a factorized code, so we
report the cosine-similarity matrix and the mean |cos| between x- and y-directions (~0 when factorized).
A mean over all pairs dilutes a few aligned pairs (x=v and y=v sharing one direction gives only
~1/V), so we also report the best match per direction and how much of the y-directions' energy lies in
the span of the x-directions (and vice versa).

Within one axis the grand-mean displacements sum to ~0 (on a balanced grid), so their mutual cosines are
negative on average; ``mode="neighbour"`` instead uses steps between consecutive values,
``mu_{c+1} - mu_c``, the local direction in which changing the condition moves the layer.
"""

from __future__ import annotations

import numpy as np

from diffcomp.analysis.geometry import as_matrix


def condition_means(activations: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct condition values (sorted) and the mean activation ``[V, D]`` for each."""
    x = as_matrix(activations)
    keys = np.round(np.asarray(values, dtype=np.float64), 6)
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros((len(unique), x.shape[1]))
    np.add.at(sums, inverse, x)
    return unique, sums / np.bincount(inverse)[:, None]


def condition_directions(activations: np.ndarray, values: np.ndarray, mode: str = "grand_mean") -> np.ndarray:
    """Displacement vectors of one label's conditions (``[V, D]``, or ``[V - 1, D]`` for neighbours)."""
    _, means = condition_means(activations, values)
    if mode == "grand_mean":
        return means - as_matrix(activations).mean(axis=0)
    if mode == "neighbour":
        return np.diff(means, axis=0)
    raise ValueError(f"mode must be 'grand_mean' or 'neighbour', got {mode!r}")


def cosine_similarity_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosines between the rows of ``a`` and of ``b`` (default ``a``); zero-length rows give 0."""
    b = a if b is None else b
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    return (a / np.where(na > 0, na, 1.0)) @ (b / np.where(nb > 0, nb, 1.0)).T


def subspace_overlap(a: np.ndarray, b: np.ndarray, rtol: float = 1e-8) -> float:
    """Share of the rows of ``b``'s squared norm that lies in the row span of ``a`` (in [0, 1])."""
    _, sv, vt = np.linalg.svd(a, full_matrices=False)
    basis = vt[sv > rtol * (sv[0] if len(sv) else 0.0)]
    total = float(np.sum(b**2))
    return float(np.sum((b @ basis.T) ** 2) / total) if total > 0 else 0.0


def condition_orthogonality(activations: np.ndarray, labels: np.ndarray, mode: str = "grand_mean") -> dict:
    """Cosine matrix of all x- then y-directions and its summaries.

    Returns ``{"cos": [Vx+Vy, Vx+Vy], "n_x": Vx, "n_y": Vy, "xy_mean_abs", "xy_max_abs",
    "xy_subspace_overlap", "xx_mean_abs", "yy_mean_abs"}``: ``xy_max_abs`` averages, over all
    directions of both axes, the largest |cos| with a direction of the other axis;
    ``xy_subspace_overlap`` averages :func:`subspace_overlap` both ways; within-axis means skip the
    diagonal.
    """
    labels = np.asarray(labels)
    dx = condition_directions(activations, labels[:, 0], mode)
    dy = condition_directions(activations, labels[:, 1], mode)
    cos = cosine_similarity_matrix(np.concatenate([dx, dy]))
    nx = len(dx)
    xx, yy, xy = np.abs(cos[:nx, :nx]), np.abs(cos[nx:, nx:]), np.abs(cos[:nx, nx:])
    off = lambda m: float((m.sum() - np.trace(m)) / (m.size - len(m))) if len(m) > 1 else 0.0
    return {
        "cos": cos,
        "n_x": nx,
        "n_y": len(dy),
        "xy_mean_abs": float(xy.mean()),
        "xy_max_abs": float(np.concatenate([xy.max(axis=1), xy.max(axis=0)]).mean()),
        "xy_subspace_overlap": 0.5 * (subspace_overlap(dx, dy) + subspace_overlap(dy, dx)),
        "xx_mean_abs": off(xx),
        "yy_mean_abs": off(yy),
    }
