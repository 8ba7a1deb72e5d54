"""The image overlap of appendix A.5: the printed formula ||sqrt(a*b)||_2 / ||a||_2, its stated properties
(self-overlap 1, above 1 for a pixel-centred neighbour of a half-pixel bump), its continuum value, the
comparison readings, the all-pairs matrix."""

import numpy as np
import pytest
import torch

from diffcomp.data.labels import label_grid
from diffcomp.theory.overlap import ink_images, overlap, overlap_curve, overlap_matrix


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("centre", [16.0, 16.5, 10.3])
@pytest.mark.parametrize("normalization", ["sqrt", "self"])
def test_self_overlap_is_one(sigma, centre, normalization):
    a = ink_images(torch.tensor([[centre, centre]]), 32, sigma)
    assert overlap(a, a, normalization).item() == pytest.approx(1.0, abs=1e-12)


def test_ink_is_the_inverted_image():
    a = ink_images(torch.tensor([[16.0, 16.0]]), 32, 1.0)[0]
    assert a.max().item() == pytest.approx(1.0) and a[15, 15].item() == pytest.approx(1.0)
    assert a.min().item() >= 0.0 and a[0, 0].item() < 1e-20


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5, 2.0])
def test_overlap_falls_with_distance(sigma):
    # pixel-centred reference: no sub-pixel artefact, the curve decreases from 1
    d = np.arange(0, 6.01, 0.25)
    values = overlap_curve(d, sigma, reference=16)
    assert values[0] == pytest.approx(1.0)
    assert np.all(np.diff(values) < 0)


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_wide_bumps_follow_the_continuum_formula(sigma):
    # ||sqrt(a*b)|| / ||a|| = exp(-r^2 / (16 sigma^2)) for the paper's exp(-r^2 / 4 sigma^2) profile
    d = np.arange(0, 5.0, 1.0)
    np.testing.assert_allclose(overlap_curve(d, sigma, reference=16), np.exp(-(d**2) / (16 * sigma**2)), rtol=2e-3)


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_the_earlier_self_normalised_reading_is_the_square_in_the_continuum(sigma):
    # ||a*b|| / ||a*a|| = exp(-r^2 / (8 sigma^2)): a threshold there means another distance
    d = np.arange(0, 5.0, 1.0)
    earlier = overlap_curve(d, sigma, reference=16, normalization="self")
    np.testing.assert_allclose(earlier, np.exp(-(d**2) / (8 * sigma**2)), rtol=2e-3)
    np.testing.assert_allclose(earlier, overlap_curve(d, sigma, reference=16) ** 2, rtol=4e-3)


def test_the_printed_formula_by_hand():
    a = torch.tensor([[0.0, 1.0], [4.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    # sqrt(a*b) = [[0, 1], [2, 0]]: norm sqrt(5); ||a|| = sqrt(17)
    assert overlap(a, b).item() == pytest.approx(np.sqrt(5 / 17), rel=1e-12)
    assert overlap(a, b, "self").item() == pytest.approx(np.sqrt(17) / np.sqrt(257), rel=1e-12)
    assert overlap(a, b, "norm").item() == pytest.approx(np.sqrt(17) / np.sqrt(17), rel=1e-12)


def test_pixelation_pushes_the_overlap_above_one_near_half_a_pixel():
    # the reference at the canvas centre 16.5 sits between pixels; its neighbour at d = 0.5 is on one
    d = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 2.0])
    values = overlap_curve(d, 0.1)
    assert values[0] == pytest.approx(1.0)
    # sigma = 0.1 by hand: both pixels beside 16.5 hold exp(-0.25 / 0.04) of ink; the neighbour at 17 holds 1
    # on its pixel, so sum(a*b) / sum(a^2) = 1 / (2 exp(-6.25)) and the overlap is its square root, ~16
    assert values[2] == pytest.approx((2 * np.exp(-6.25)) ** -0.5, rel=1e-3) and values[2] == values.max()
    assert values[-1] < 1e-6
    # a wider bump is much less affected, but still peaks at the pixel crossing
    assert overlap_curve([0.5], 0.5)[0] < 1.0


def test_literal_normalisation_is_below_one():
    d = np.array([0.0, 0.5, 1.0])
    literal = overlap_curve(d, 1.0, normalization="norm")
    assert literal[0] == pytest.approx(2**-0.5, rel=1e-3)  # the wide-bump limit 1/sqrt(2)
    np.testing.assert_allclose(literal / literal[0], overlap_curve(d, 1.0, normalization="self"), rtol=1e-6)


@pytest.mark.parametrize("normalization", ["sqrt", "self", "norm"])
def test_overlap_matrix_matches_pairwise_overlaps(normalization):
    labels = label_grid(8, 1.0, 1.0)
    images = ink_images(labels, 8, 0.8)
    matrix = overlap_matrix(images, normalization)
    assert matrix.shape == (64, 64)
    np.testing.assert_allclose(matrix, matrix.T, rtol=1e-12)
    assert matrix.max() <= 1.0 + 1e-12
    # every pair against the pairwise definition with the geometric-mean normaliser
    i, j = np.triu_indices(64, k=1)
    direct_ij = overlap(images[i], images[j], normalization).numpy()
    direct_ji = overlap(images[j], images[i], normalization).numpy()
    np.testing.assert_allclose(matrix[i, j], np.sqrt(direct_ij * direct_ji), rtol=1e-10)
    # bumps far from the border all have the same norm, so the symmetric value is the paper's directed one
    pair = ink_images(torch.tensor([[8.0, 8.0], [9.0, 7.0]]), 16, 0.8)
    assert overlap_matrix(pair, normalization)[0, 1] == pytest.approx(
        overlap(pair[0], pair[1], normalization).item(), rel=1e-9
    )
