"""The centre read-out and accuracy of appendix A.3 on images with known answers."""

import pytest
import torch

from diffcomp.data.labels import integer_grid
from diffcomp.data.render import render
from diffcomp.eval.readout import accuracy, count_features, read_centres


def test_ground_truth_images_score_one():
    labels = integer_grid(32).float()
    images = render(labels, 32, 1.0, 1.0)
    result = read_centres(images)
    assert accuracy(result.centres, labels) == {"acc": 1.0, "acc_x": 1.0, "acc_y": 1.0}
    assert (result.feature_counts == 1).all()


def test_images_shifted_by_two_pixels_score_zero():
    labels = integer_grid(32).float()
    # every bump drawn two pixels away on both axes, towards the canvas interior so it stays visible
    shift = torch.where(labels <= 16, 2.0, -2.0)
    images = render(labels + shift, 32, 1.0, 1.0)
    result = read_centres(images)
    assert accuracy(result.centres, labels)["acc"] == 0.0


def test_shift_along_x_only_keeps_y_accuracy():
    labels = torch.tensor([[10.0, 10.0], [20.0, 5.0]])
    images = render(labels + torch.tensor([3.0, 0.0]), 32, 1.0, 1.0)
    acc = accuracy(read_centres(images).centres, labels)
    assert acc == {"acc": 0.0, "acc_x": 0.0, "acc_y": 1.0}


def test_blank_image_falls_back_to_the_canvas_centre():
    result = read_centres(torch.full((1, 16, 16), 255.0))
    assert result.feature_counts.tolist() == [0]
    assert result.centres[0].tolist() == pytest.approx([8.5, 8.5])


def test_two_bumps_fall_back_to_the_centroid():
    two = render(torch.tensor([[4.0, 8.0], [12.0, 8.0]]), 16, 1.0, 1.0).min(dim=0).values[None]
    result = read_centres(two)
    assert result.feature_counts.tolist() == [2]
    assert result.centres[0].tolist() == pytest.approx([8.0, 8.0], abs=0.05)


def test_features_are_merged_across_the_seam_on_a_torus():
    image = render(torch.tensor([[0.5, 8.0]]), 16, 1.0, 1.0, periodic=True)
    assert count_features(image.numpy(), periodic=False).tolist() == [2]
    assert count_features(image.numpy(), periodic=True).tolist() == [1]


def test_periodic_accuracy_wraps_errors():
    assert accuracy(torch.tensor([[16.5, 3.0]]), torch.tensor([[0.7, 3.0]]), period=16.0)["acc"] == 1.0
    assert accuracy(torch.tensor([[16.5, 3.0]]), torch.tensor([[0.7, 3.0]]))["acc"] == 0.0


def test_profile_readout_reads_a_lone_stripe_on_its_axis():
    # an SOS whose horizontal stripe lies far outside the frame: only the vertical stripe shows
    image = render(torch.tensor([[9.0, -40.0]]), 16, 1.0, 1.0, kind="sos")
    centre = read_centres(image, method="profile").centres[0]
    assert centre[0].item() == 9.0


def sos(labels, size=32):
    return render(torch.tensor(labels, dtype=torch.float32), size, 1.0, 1.0, kind="sos")


def test_sos_darkest_pixel_is_the_crossing_and_counts_one_feature():
    labels = integer_grid(32).float()
    result = read_centres(render(labels, 32, 1.0, 1.0, kind="sos"), kind="sos")
    assert accuracy(result.centres, labels)["acc"] == 1.0 and (result.feature_counts == 1).all()


def test_a_lone_stripe_is_no_feature_and_reads_its_own_axis_only():
    # appendix A.3: no SOS -> the centroid; a vertical stripe at x=9 gets x right, y at the canvas centre
    image = sos([[9.0, -40.0]])
    result = read_centres(image, kind="sos")
    assert result.feature_counts.tolist() == [0]
    assert result.centres[0].tolist() == pytest.approx([9.0, 16.5], abs=0.05)
    assert accuracy(result.centres, torch.tensor([[9.0, 5.0]])) == {"acc": 0.0, "acc_x": 1.0, "acc_y": 0.0}


def test_two_crossings_are_several_features_and_fall_back_to_the_centroid():
    # two vertical stripes crossed by one horizontal stripe: two SOS crossings
    image = torch.minimum(sos([[8.0, 20.0]]), sos([[24.0, 20.0]]))
    result = read_centres(image, kind="sos")
    assert result.feature_counts.tolist() == [2]
    assert result.centres[0, 0].item() == pytest.approx(16.0, abs=0.5)  # the centroid between them


def test_profile_readout_picks_one_stripe_with_no_fallback():
    image = torch.minimum(sos([[8.0, 20.0]]), sos([[24.0, 20.0]]))
    centre = read_centres(image, method="profile", kind="sos").centres[0]
    assert centre[0].item() in (8.0, 24.0) and centre[1].item() == 20.0


def test_phase_b_errors_tell_a_near_miss_from_a_bump_in_the_wrong_place():
    # rendered bumps at known offsets from the requested labels: 8 correct, 4 off by one pixel in x,
    # 4 off by three, so the one-feature error shares are 1/2, 1/4, 1/4 and nothing beyond 4 px
    from diffcomp.eval.callback import score_samples

    size = 16
    requested = torch.tensor([[4.0 + k % 8, 5.0 + k // 8] for k in range(16)])
    shift = torch.tensor([[0.0, 0.0]] * 8 + [[1.0, 0.0]] * 4 + [[3.0, 0.0]] * 4)
    images = render(requested + shift, size, 1.0, 1.0)
    metrics = score_samples(images, requested)
    assert metrics["eval/frac_one_feature"] == 1.0 and metrics["eval/one_feature/n"] == 16
    assert metrics["eval/acc"] == pytest.approx(0.5)
    assert metrics["eval/one_feature/err_lt1"] == pytest.approx(0.5)
    assert metrics["eval/one_feature/err_1to2"] == pytest.approx(0.25)
    assert metrics["eval/one_feature/err_2to4"] == pytest.approx(0.25)
    assert metrics["eval/one_feature/err_ge4"] == 0.0
    assert 0.0 <= metrics["eval/one_feature/err_median"] < 1.5
