"""Linear geometry of a representation: PCA eigenspectrum, explained variance, effective dimension.

The paper (Sec. 3.1, Fig. 2c-g) tracks how many directions a layer uses: the eigenspectrum of the
activation covariance, the share of variance in the top PCs (a Clifford torus puts ~all of it in 4)
and the participation ratio ``(sum l)^2 / sum l^2``, which counts the dominant eigen-directions
(exactly ``n`` for ``n`` equal eigenvalues, ~1 when one direction dominates).

Everything is computed from one eigendecomposition. With fewer samples than features (1 024 samples of
a 4 096-wide layer) we decompose the ``M x M`` Gram matrix instead of the ``D x D`` covariance: same
non-zero spectrum, far less work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCA:
    """A fitted PCA: ``projections = (activations - mean) @ components.T``."""

    mean: np.ndarray  # [D]
    components: np.ndarray  # [k, D], orthonormal rows, descending variance
    eigenvalues: np.ndarray  # [min(M - 1, D)] covariance eigenvalues, descending (all, not only k)
    projections: np.ndarray  # [M, k] sample scores


def as_matrix(activations: np.ndarray) -> np.ndarray:
    """Activations as float64 ``[M, D]``; higher-rank samples (e.g. ``[M, C, H, W]``) are flattened."""
    x = np.asarray(activations, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return x.reshape(len(x), -1)


def pca(activations: np.ndarray, n_components: int | None = None) -> PCA:
    """PCA by a symmetric eigendecomposition of whichever of Gram/covariance is smaller.

    Component signs are fixed (largest-magnitude loading positive) so plots are reproducible.
    """
    x = as_matrix(activations)
    m, d = x.shape
    if m < 2:
        raise ValueError("PCA needs at least two samples")
    mean = x.mean(axis=0)
    xc = x - mean
    rank = min(m - 1, d)
    k = rank if n_components is None else min(n_components, rank)
    if m <= d:
        w, u = np.linalg.eigh(xc @ xc.T)
        w, u = w[::-1][:rank], u[:, ::-1][:, :rank]
        w = np.clip(w, 0.0, None)
        scale = np.sqrt(np.where(w[:k] > 0, w[:k], 1.0))
        components = (u[:, :k].T @ xc) / scale[:, None]
    else:
        w, v = np.linalg.eigh(xc.T @ xc)
        w, v = w[::-1][:rank], v[:, ::-1][:, :rank]
        w = np.clip(w, 0.0, None)
        components = v[:, :k].T
    signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]
    return PCA(mean=mean, components=components, eigenvalues=w / (m - 1), projections=xc @ components.T)


def pca_spectrum(activations: np.ndarray) -> np.ndarray:
    """Covariance eigenvalues in descending order (length ``min(M - 1, D)``)."""
    x = as_matrix(activations)
    xc = x - x.mean(axis=0)
    gram = xc @ xc.T if len(x) <= x.shape[1] else xc.T @ xc
    w = np.clip(np.linalg.eigvalsh(gram)[::-1], 0.0, None)
    return w[: min(len(x) - 1, x.shape[1])] / (len(x) - 1)


def explained_variance_ratio(eigenvalues: np.ndarray, k: int) -> float:
    """Share of the total variance carried by the top ``k`` PCs."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    total = lam.sum()
    return float(lam[:k].sum() / total) if total > 0 else 0.0


def participation_ratio(eigenvalues: np.ndarray) -> float:
    """Effective dimension ``(sum l)^2 / sum l^2`` (Sec. 3.1)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    denom = float(np.sum(lam**2))
    return float(lam.sum() ** 2 / denom) if denom > 0 else 0.0


def pca_projections(activations: np.ndarray, n_components: int = 4) -> np.ndarray:
    """Sample scores on the top ``n_components`` PCs, for plotting (``[M, k]``)."""
    return pca(activations, n_components).projections
