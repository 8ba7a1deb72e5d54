"""Label grids, dataset sizes and the nested, sigma-independent lambda subsets."""

import pytest
import torch

from diffcomp.data.canvas import CanvasSpec, training_labels
from diffcomp.data.labels import axis_values, integer_grid, label_grid, nested_subsample


def test_paper_dataset_has_102400_images_and_d1_has_1024():
    assert len(label_grid(32, 0.1, 0.1)) == 102_400
    assert len(label_grid(32, 1.0, 1.0)) == 1_024
    assert CanvasSpec(increment_x=0.1, increment_y=0.1).num_training_labels() == 102_400


def test_grid_ends_on_the_last_pixel_and_contains_every_integer_label():
    xs = axis_values(0.1, 32, 0.1)
    assert len(xs) == 320 and xs[0].item() == pytest.approx(0.1) and xs[-1].item() == pytest.approx(32.0)
    grid = label_grid(32, 0.1, 0.1)
    on_integers = ((grid - grid.round()).abs() < 1e-9).all(dim=1)
    assert on_integers.sum().item() == 1024
    assert torch.equal(integer_grid(4)[:5], torch.tensor([[1, 1], [2, 1], [3, 1], [4, 1], [1, 2]], dtype=torch.float64))


def test_imbalanced_increments_count_per_axis():
    assert len(label_grid(32, 0.5, 1.0)) == 64 * 32


@pytest.mark.parametrize("fraction,expected", [(0.1, 102), (0.3, 307), (0.5, 512), (1.0, 1024)])
def test_lambda_keeps_floor_of_the_fraction(fraction, expected):
    assert len(nested_subsample(integer_grid(32), fraction, seed=0)) == expected


def test_lambda_subsets_are_nested():
    grid = integer_grid(32)
    sets = [{tuple(r) for r in nested_subsample(grid, lam / 10, seed=3).tolist()} for lam in range(1, 11)]
    for small, large in zip(sets, sets[1:]):
        assert small < large


def test_lambda_subsets_are_shared_across_sigma_and_differ_across_seeds():
    a = training_labels(CanvasSpec(sigma_x=0.1, sigma_y=0.1, increment_x=1, increment_y=1, fraction=0.3))
    b = training_labels(CanvasSpec(sigma_x=2.0, sigma_y=2.0, increment_x=1, increment_y=1, fraction=0.3))
    c = training_labels(CanvasSpec(increment_x=1, increment_y=1, fraction=0.3, subsample_seed=1))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
