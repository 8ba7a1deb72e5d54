import numpy as np
import pytest
from analysis_helpers import embed

from diffcomp.analysis.geometry import explained_variance_ratio, participation_ratio, pca, pca_spectrum


def test_clifford_torus_is_four_dimensional(clifford):
    lam = pca_spectrum(embed(clifford, 256, 0.0, seed=0))
    assert participation_ratio(lam) == pytest.approx(4.0, abs=1e-6)
    assert explained_variance_ratio(lam, 4) == pytest.approx(1.0, abs=1e-9)
    assert explained_variance_ratio(lam, 2) == pytest.approx(0.5, abs=1e-9)


def test_standard_torus_participation_ratio(torus3d):
    # on the full grid the covariance is diag(R^2/2 + r^2/4, same, r^2/2) = (2.25, 2.25, 0.5)
    lam = np.array([2.25, 2.25, 0.5])
    assert participation_ratio(pca_spectrum(torus3d)) == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-9)


def test_participation_ratio_limits():
    assert participation_ratio(np.ones(7)) == pytest.approx(7.0)
    assert participation_ratio(np.array([1.0, 0, 0])) == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(50, 200), (300, 20)])  # Gram path (M <= D) and covariance path
def test_pca_matches_svd(shape):
    x = np.random.default_rng(1).normal(size=shape) * np.linspace(3, 0.1, shape[1])
    fit = pca(x, 5)
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    np.testing.assert_allclose(fit.eigenvalues[:5], s[:5] ** 2 / (shape[0] - 1), rtol=1e-8)
    np.testing.assert_allclose(fit.eigenvalues, pca_spectrum(x), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fit.components @ fit.components.T, np.eye(5), atol=1e-8)
    np.testing.assert_allclose(fit.projections, (x - fit.mean) @ fit.components.T, atol=1e-8)
    np.testing.assert_allclose(fit.projections.var(axis=0, ddof=1), fit.eigenvalues[:5], rtol=1e-8)
