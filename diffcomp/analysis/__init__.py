"""Analyses of a layer's representation (paper Sec. 3.1, appendix B): geometry, topology, torus tests,
linear probes, condition directions, figures, and ``analyze_representation`` that runs them all.

Inputs are plain numpy arrays: ``activations`` [M, D] and ``labels`` [M, 2] = (mu_x, mu_y).
"""

from diffcomp.analysis.conditions import condition_directions, condition_orthogonality, cosine_similarity_matrix
from diffcomp.analysis.embedding import umap_embedding
from diffcomp.analysis.geometry import (
    PCA,
    explained_variance_ratio,
    participation_ratio,
    pca,
    pca_projections,
    pca_spectrum,
)
from diffcomp.analysis.probes import linear_probe_r2
from diffcomp.analysis.report import analyze_representation
from diffcomp.analysis.topology import Persistence, betti_numbers, persistence_diagrams, persistent_homology
from diffcomp.analysis.torus_tests import clifford_torus, label_angles, standard_torus, torus_tests

__all__ = [
    "PCA",
    "Persistence",
    "analyze_representation",
    "betti_numbers",
    "clifford_torus",
    "condition_directions",
    "condition_orthogonality",
    "cosine_similarity_matrix",
    "explained_variance_ratio",
    "label_angles",
    "linear_probe_r2",
    "participation_ratio",
    "pca",
    "pca_projections",
    "pca_spectrum",
    "persistence_diagrams",
    "persistent_homology",
    "standard_torus",
    "torus_tests",
    "umap_embedding",
]
