import numpy as np
import pytest

from diffcomp.analysis.conditions import condition_directions, condition_orthogonality, cosine_similarity_matrix


def _one_hot_code(labels, shared: bool) -> np.ndarray:
    """Each x value and each y value gets its own unit vector; ``shared`` reuses x's vectors for y."""
    eye = np.eye(64)
    ix, iy = (labels[:, 0] - 1).astype(int), (labels[:, 1] - 1).astype(int)
    return eye[ix] + eye[iy if shared else 32 + iy]


def test_orthogonal_conditions(grid_labels):
    result = condition_orthogonality(_one_hot_code(grid_labels, shared=False), grid_labels)
    assert result["xy_mean_abs"] == pytest.approx(0, abs=1e-12)
    assert result["xy_max_abs"] == pytest.approx(0, abs=1e-12)
    assert result["xy_subspace_overlap"] == pytest.approx(0, abs=1e-12)
    # grand-mean displacements e_v - mean(e) of 32 one-hots: cos = -1/31 between any two
    assert result["xx_mean_abs"] == pytest.approx(1 / 31)
    assert result["cos"].shape == (64, 64)


def test_shared_directions_are_detected(grid_labels):
    result = condition_orthogonality(_one_hot_code(grid_labels, shared=True), grid_labels)
    assert result["xy_max_abs"] == pytest.approx(1.0)
    assert result["xy_subspace_overlap"] == pytest.approx(1.0)
    assert result["xy_mean_abs"] == pytest.approx((32 + 992 / 31) / 1024)


def test_random_high_dimensional_codes_are_nearly_orthogonal(grid_labels):
    rng = np.random.default_rng(0)
    ax, ay = rng.normal(size=(32, 2048)), rng.normal(size=(32, 2048))
    x = ax[(grid_labels[:, 0] - 1).astype(int)] + ay[(grid_labels[:, 1] - 1).astype(int)]
    assert condition_orthogonality(x, grid_labels)["xy_mean_abs"] < 0.05


def test_neighbour_mode(grid_labels):
    x = np.stack([grid_labels[:, 0], 2 * grid_labels[:, 1]], axis=1)  # a plane, x and y on the two axes
    dx = condition_directions(x, grid_labels[:, 0], mode="neighbour")
    np.testing.assert_allclose(dx, [[1.0, 0.0]] * 31)
    assert condition_orthogonality(x, grid_labels, mode="neighbour")["xy_mean_abs"] == pytest.approx(0)
    with pytest.raises(ValueError):
        condition_directions(x, grid_labels[:, 0], mode="nope")


def test_cosine_matrix_handles_zero_rows():
    m = cosine_similarity_matrix(np.array([[1.0, 0], [0, 0], [1, 1]]))
    np.testing.assert_allclose(m, [[1, 0, 2**-0.5], [0, 0, 0], [2**-0.5, 0, 1]])
