"""The renderers against the formulas of appendix A, at chosen pixels."""

import math

import pytest
import torch

from diffcomp.data.render import from_model_range, render, to_model_range


def bump_formula(x, y, mx, my, sx, sy):
    return 255 * (1 - math.exp(-((x - mx) ** 2) / (4 * sx**2) - (y - my) ** 2 / (4 * sy**2)))


def sos_formula(x, y, mx, my, sx, sy):
    return 255 * (1 - 0.5 * (math.exp(-((x - mx) ** 2) / (4 * sx**2)) + math.exp(-((y - my) ** 2) / (4 * sy**2))))


@pytest.mark.parametrize("kind,formula", [("bump", bump_formula), ("sos", sos_formula)])
def test_values_match_the_formula_at_chosen_pixels(kind, formula):
    mx, my, sx, sy = 10.3, 20.7, 1.5, 0.8
    img = render(torch.tensor([[mx, my]], dtype=torch.float64), 32, sx, sy, kind=kind)[0]
    for x, y in [(1, 1), (10, 21), (11, 20), (32, 32), (5, 17)]:
        # pixel (x, y) lives at row y-1, column x-1: x runs along columns, (1, 1) is top-left
        assert img[y - 1, x - 1].item() == pytest.approx(formula(x, y, mx, my, sx, sy), rel=1e-6, abs=1e-6)


def test_bump_is_dark_on_bright_with_its_minimum_at_the_label():
    img = render(torch.tensor([[4.0, 9.0]]), 16, 1.0, 1.0)[0]
    row, col = divmod(img.argmin().item(), 16)
    assert (col + 1, row + 1) == (4, 9)
    assert img.min().item() == pytest.approx(0.0, abs=1e-4)
    assert img[0, 15].item() == pytest.approx(255.0, abs=1e-3)


def test_periodic_bump_near_the_edge_shows_on_both_edges():
    plain = render(torch.tensor([[0.5, 8.0]]), 16, 1.0, 1.0)[0]
    torus = render(torch.tensor([[0.5, 8.0]]), 16, 1.0, 1.0, periodic=True)[0]
    # pixel x=16 is 0.5 away from mu=0.5 across the seam (16.5 == 0.5 mod 16)
    assert torus[7, 15].item() == pytest.approx(bump_formula(1, 8, 0.5, 8, 1, 1), rel=1e-5)
    assert torus[7, 0].item() == pytest.approx(torus[7, 15].item(), rel=1e-5)
    assert plain[7, 15].item() > 250  # without wrapping the far edge stays bright


def test_model_range_round_trip():
    img = render(torch.tensor([[3.0, 3.0], [5.0, 6.0]]), 8, 1.0, 1.0)
    x = to_model_range(img)
    assert x.shape == (2, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert torch.allclose(from_model_range(x), img, atol=1e-4)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown image kind 'blob'"):
        render(torch.zeros(1, 2), 8, 1.0, 1.0, kind="blob")
