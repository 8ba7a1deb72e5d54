"""Locality of a denoiser against the noise level: known answers from hand-built denoisers, the package's two models."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from diffcomp.diffusion.schedule import linear_schedule
from diffcomp.localscores.global_unet import SetConditionedUNet
from diffcomp.localscores.local_denoiser import LocalDenoiser
from diffcomp.localscores.locality import (
    LocalityCurve,
    conditional_locality,
    locality_metrics,
    pixel_locality,
    plot_locality,
    removal_sets,
    timestep_grid,
    uniform_share,
    window_share,
)

N, T = 16, 1000
SCHEDULE = linear_schedule(T)
STEPS = [0, 250, 500, 999]
INTERIOR = torch.tensor([[3, 4], [8, 8], [12, 5], [6, 11]])  # (row, col), at least 3 pixels from every border


def requests(batch=3, seed=0):
    """Noisy-input material: images in [-1, 1] and two interior conditions per request, plus padding."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 1, N, N, generator=generator) * 2 - 1
    conditions = torch.zeros(batch, 4, 3)
    conditions[:, 0] = torch.tensor([5.0, 6.0, 1.0])  # (x, y, valid)
    conditions[:, 1] = torch.tensor([11.0, 10.0, 1.0])
    return images, conditions


def box(conditions, size, radius):
    """[B, 1, N, N]: how many valid conditions lie within max-norm ``radius`` of each pixel."""
    coords = torch.arange(1, size + 1, dtype=conditions.dtype)
    near_x = (coords[None, None, None, :] - conditions[:, :, 0, None, None]).abs() <= radius
    near_y = (coords[None, None, :, None] - conditions[:, :, 1, None, None]).abs() <= radius
    valid = conditions[:, :, 2, None, None] > 0.5
    return (near_x & near_y & valid).sum(dim=1, keepdim=True).to(conditions.dtype)


class LocalByHand(nn.Module):
    """``eps = conv_k(x) + box_r(C)``: a fixed k x k kernel (zero padding) plus 1 within ``r`` of each condition.

    Exactly local: pixel i sees inputs within (k - 1) / 2, a condition acts within r. With
    ``global_weight`` g (times t / T when ``grows_with_t``) it adds ``g * sum(x)`` to every pixel.
    """

    def __init__(
        self, kernel: torch.Tensor, cond_radius: int = 1, global_weight: float = 0.0, grows_with_t: bool = False
    ):
        super().__init__()
        self.register_buffer("kernel", kernel[None, None].float())
        self.cond_radius, self.global_weight, self.grows_with_t = cond_radius, global_weight, grows_with_t

    def forward(self, x, t, conditions):
        out = F.conv2d(x, self.kernel, padding=self.kernel.shape[-1] // 2) + box(
            conditions, x.shape[-1], self.cond_radius
        )
        weight = self.global_weight * (t.float() / (T - 1) if self.grows_with_t else torch.ones(len(x)))
        return out + weight[:, None, None, None] * x.sum(dim=(-2, -1), keepdim=True)


class GlobalConditions(nn.Module):
    """``eps = x + sum_j c_j``: every condition shifts the whole image by its own constant."""

    def forward(self, x, t, conditions):
        shift = (conditions[:, :, 2] * (1.0 + conditions[:, :, 0] / 10)).sum(dim=1)
        return x + shift[:, None, None, None]


KERNEL5 = torch.arange(25.0).reshape(5, 5) / 25 + 0.1  # radius 2, no zero entry


# ----------------------------------------------------------------------------- the pieces
def test_window_share_counts_the_max_norm_window():
    energy = torch.zeros(2, 8, 8, dtype=torch.float64)
    energy[0, 3, 3] = energy[0, 3, 5] = energy[0, 7, 7] = 1.0  # (x, y) = (4, 4), (6, 4), (8, 8)
    shares = window_share(energy, torch.tensor([[4.0, 4.0], [1.0, 1.0]], dtype=torch.float64), radius=2)
    assert shares[0].item() == pytest.approx(2 / 3)  # (6, 4) is 2 away in x: inside; (8, 8) is 4 away
    assert math.isnan(shares[1].item())  # no energy at all: undefined


def test_removal_sets_remove_each_valid_condition_once():
    _, conditions = requests(batch=2)
    request, removed, where = removal_sets(conditions)
    assert request.tolist() == [0, 0, 1, 1]
    assert where.tolist() == [[5.0, 6.0], [11.0, 10.0]] * 2
    assert removed[0, 0].tolist() == [0.0, 0.0, 0.0] and removed[0, 1].tolist() == [11.0, 10.0, 1.0]
    assert removed[1, 1].tolist() == [0.0, 0.0, 0.0] and removed[1, 0].tolist() == [5.0, 6.0, 1.0]


def test_curve_statistics_skip_undefined_samples():
    curve = LocalityCurve(np.array([0, 1]), np.array([[np.nan, 1.0, 0.0], [np.nan] * 3]), 1.0)
    assert curve.mean[0] == 0.5 and curve.std[0] == 0.5 and curve.count.tolist() == [2, 0]
    assert math.isnan(curve.mean[1])


def test_timestep_grid_spans_the_schedule():
    assert timestep_grid(1000, 5) == [0, 250, 500, 749, 999]
    assert timestep_grid(1000, 1) == [0]


# ----------------------------------------------------------------------------- known answers
def test_an_exactly_local_denoiser_reads_one_within_its_radius():
    images, conditions = requests()
    model = LocalByHand(KERNEL5, cond_radius=1)
    pixel = pixel_locality(model, images, conditions, SCHEDULE, STEPS, radius=2, pixels=6)
    assert pixel.values.shape == (4, 3 * 6)
    np.testing.assert_allclose(pixel.values, 1.0, rtol=0, atol=1e-12)
    cond = conditional_locality(model, images, conditions, SCHEDULE, STEPS, radius=1)
    assert cond.values.shape == (4, 3 * 2)  # every valid condition of every request, removed in turn
    np.testing.assert_allclose(cond.values, 1.0, rtol=0, atol=1e-12)


def test_a_smaller_radius_reads_the_kernel_share():
    # at R = 1 an interior pixel keeps the inner 3 x 3 of the (flipped) kernel's squared mass
    images, conditions = requests()
    pixel = pixel_locality(LocalByHand(KERNEL5), images, conditions, SCHEDULE, [0], radius=1, pixels=INTERIOR)
    # (the centre weight, d eps_i / d x_i, is the diagonal: it counts neither inside nor in the total)
    centre = KERNEL5[2, 2] ** 2
    expected = ((KERNEL5[1:4, 1:4] ** 2).sum() - centre) / ((KERNEL5**2).sum() - centre)
    np.testing.assert_allclose(pixel.values, expected.item(), rtol=1e-6)
    # a condition's box of radius 2 (5 x 5, uniform) keeps 9 / 25 of its energy within radius 1
    cond = conditional_locality(LocalByHand(KERNEL5, cond_radius=2), images, conditions, SCHEDULE, [0], radius=1)
    np.testing.assert_allclose(cond.values, 9 / 25, rtol=1e-6)  # float32 differences


IDENTITY3 = torch.zeros(3, 3)
IDENTITY3[1, 1] = 1.0


def test_adding_the_global_sum_spreads_the_sensitivity():
    # J_ij = delta_ij + g for every pair: off the diagonal every pixel weighs g^2, so at R = 1 an
    # interior pixel keeps its 8 neighbours of the N^2 - 1 others, however large the identity term
    images, conditions = requests()
    g = 0.1
    pixel = pixel_locality(
        LocalByHand(IDENTITY3, global_weight=g), images, conditions, SCHEDULE, STEPS, radius=1, pixels=INTERIOR
    )
    np.testing.assert_allclose(pixel.values, 8 / (N * N - 1), rtol=1e-6)


def test_the_uniform_reference_is_what_a_global_dependence_reads():
    # the global-sum model above is the uniform dependence: it reads uniform_share("pixels", ...)
    assert uniform_share("pixels", 1, N) == pytest.approx(8 / (N * N - 1))
    # a condition acting everywhere (GlobalConditions below) reads uniform_share("conditions", ...)
    assert uniform_share("conditions", 1, N) == pytest.approx(9 / N**2)
    assert uniform_share("conditions", 40, N) == 1.0 and uniform_share("pixels", 40, N) == 1.0
    with pytest.raises(ValueError, match="measure"):
        uniform_share("pixel", 1, N)


def test_the_identity_is_not_locality():
    # eps = x_t (what eps-prediction reads at high noise) depends on no other pixel: undefined, not 1
    images, conditions = requests()
    pixel = pixel_locality(LocalByHand(IDENTITY3), images, conditions, SCHEDULE, STEPS, radius=2, pixels=4)
    assert np.all(np.isnan(pixel.values)) and np.all(pixel.count == 0)


class EpsFromX0(nn.Module):
    """``eps = (x_t - sqrt(abar_t) x0_hat(x_t)) / sqrt(1 - abar_t)`` around an x0-predictor ``inner``."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x, t, conditions):
        abar = SCHEDULE.alpha_bars[t].float()[:, None, None, None]
        return (x - abar.sqrt() * self.inner(x, t, conditions)) / (1 - abar).sqrt()


def test_the_share_is_the_same_for_eps_and_x0_prediction():
    # off the diagonal d eps / d x_t = -sqrt(abar / (1 - abar)) d x0_hat / d x_t: same share at every t
    images, conditions = requests()
    x0_model = LocalByHand(KERNEL5, global_weight=0.02)
    direct = pixel_locality(x0_model, images, conditions, SCHEDULE, STEPS[:-1], radius=1, pixels=INTERIOR)
    through_eps = pixel_locality(
        EpsFromX0(x0_model), images, conditions, SCHEDULE, STEPS[:-1], radius=1, pixels=INTERIOR
    )
    np.testing.assert_allclose(through_eps.values, direct.values, rtol=1e-4)
    assert 0.05 < direct.mean[0] < 0.95  # a share that could differ, not a trivial 0 or 1


def test_a_condition_acting_everywhere_reads_its_window_area():
    # removing it shifts every pixel equally: (2R + 1)^2 / N^2 of the energy lies within R
    images, conditions = requests()
    cond = conditional_locality(GlobalConditions(), images, conditions, SCHEDULE, STEPS, radius=1)
    np.testing.assert_allclose(cond.values, 9 / N**2, rtol=1e-6)


def test_locality_follows_a_time_dependent_mixing():
    # eps = conv3(x) + (t / (T - 1)) g sum(x): exactly local at t = 0, then the global term grows
    images, conditions = requests()
    kernel = torch.arange(9.0).reshape(3, 3) / 9 + 0.2
    g = 0.05
    model = LocalByHand(kernel, global_weight=g, grows_with_t=True)
    pixel = pixel_locality(model, images, conditions, SCHEDULE, STEPS, radius=1, pixels=INTERIOR)
    for k, t in enumerate(STEPS):
        w = g * t / (T - 1)
        inside = ((kernel + w) ** 2).sum() - (kernel[1, 1] + w) ** 2  # the diagonal left out
        np.testing.assert_allclose(pixel.values[k], (inside / (inside + (N * N - 9) * w**2)).item(), rtol=1e-6)
    assert pixel.mean[0] == pytest.approx(1.0) and np.all(np.diff(pixel.mean) < 0)


# ----------------------------------------------------------------------------- the package's denoisers
def test_the_local_denoiser_is_local_within_its_receptive_radius():
    torch.manual_seed(0)
    model = LocalDenoiser(image_size=N, width=8, depth=2, encoding_dim=16)
    reach = model.receptive_radius()
    images, conditions = requests()
    pixel = pixel_locality(model, images, conditions, SCHEDULE, STEPS, radius=reach["pixels"], pixels=4)
    np.testing.assert_allclose(pixel.values, 1.0, rtol=0, atol=1e-9)
    cond = conditional_locality(model, images, conditions, SCHEDULE, STEPS, radius=reach["conditions"])
    np.testing.assert_allclose(cond.values, 1.0, rtol=0, atol=1e-9)
    # nothing but the diagonal lies within radius 0, and the diagonal does not count
    assert np.all(pixel_locality(model, images, conditions, SCHEDULE, STEPS, radius=0, pixels=4).values == 0)


def test_the_global_unet_is_not_local():
    # attention, GroupNorm over the map and a broadcast set embedding couple every pixel and condition
    torch.manual_seed(0)
    model = SetConditionedUNet(image_size=N, channels=(8, 16, 16, 16), bottleneck=16, encoding_dim=16, heads=2)
    images, conditions = requests()
    pixel = pixel_locality(model, images, conditions, SCHEDULE, STEPS, radius=2, pixels=4)
    cond = conditional_locality(model, images, conditions, SCHEDULE, STEPS, radius=3)
    print(f"\nuntrained global UNet: pixel {np.round(pixel.mean, 3)}, conditional {np.round(cond.mean, 3)}")
    assert np.all(pixel.mean < 0.9) and np.all(cond.mean < 0.9)
    assert np.all((pixel.values >= 0) & (pixel.values <= 1)) and np.all((cond.values >= 0) & (cond.values <= 1))


def test_works_inside_inference_mode_and_leaves_the_model_as_it_was():
    # Lightning validates under torch.inference_mode(); the measure must still get its gradients
    torch.manual_seed(0)
    model = LocalDenoiser(image_size=N, width=8, depth=1, encoding_dim=16).train()
    with torch.inference_mode():
        images, conditions = requests()
        pixel = pixel_locality(model, images, conditions, SCHEDULE, [10, 900], radius=2, pixels=3)
        cond = conditional_locality(model, images, conditions, SCHEDULE, [10, 900], radius=3)
    assert np.isfinite(pixel.values).all() and np.isfinite(cond.values).all()
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_default_sized_measurement_takes_seconds_on_a_cpu():
    # the task's 16 x 16 models at their default sizes, 4 requests x 4 pixels, 6 timesteps
    torch.manual_seed(0)
    images, conditions = requests(batch=4)
    steps = timestep_grid(T, 6)
    for name, model in (("local", LocalDenoiser(image_size=N)), ("global", SetConditionedUNet(image_size=N))):
        start = time.perf_counter()
        pixel_locality(model, images, conditions, SCHEDULE, steps, radius=2, pixels=4)
        middle = time.perf_counter()
        conditional_locality(model, images, conditions, SCHEDULE, steps, radius=3)
        end = time.perf_counter()
        print(f"\n{name}: pixel locality {middle - start:.2f} s, conditional locality {end - middle:.2f} s")
        assert end - start < 60  # generous: the development machine is shared


# ----------------------------------------------------------------------------- reporting and checks
def test_metrics_and_figure(tmp_path):
    images, conditions = requests()
    model = LocalByHand(KERNEL5)
    curves = {
        "pixel": pixel_locality(model, images, conditions, SCHEDULE, [0, 500], radius=2, pixels=2),
        "conditional": conditional_locality(model, images, conditions, SCHEDULE, [0, 500], radius=1),
    }
    metrics = locality_metrics(curves)
    assert set(metrics) == {
        f"locality/{m}/{k}" for m in ("pixel", "conditional") for k in ("t0", "t0_std", "t500", "t500_std", "mean")
    }
    assert metrics["locality/pixel/t0"] == pytest.approx(1.0) and metrics["locality/conditional/mean"] == pytest.approx(
        1.0
    )
    plot_locality(curves, tmp_path / "locality.png", SCHEDULE, title="hand-built")
    assert (tmp_path / "locality.png").stat().st_size > 0


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda m, x, c: pixel_locality(m, x, c, SCHEDULE, [0], radius=-1), "radius"),
        (lambda m, x, c: pixel_locality(m, x, c, SCHEDULE, [T], radius=1), "timesteps"),
        (lambda m, x, c: pixel_locality(m, x, c, SCHEDULE, [], radius=1), "timesteps"),
        (lambda m, x, c: pixel_locality(m, x, c, SCHEDULE, [0], radius=1, pixels=0), "pixels"),
        (lambda m, x, c: pixel_locality(m, x, c, SCHEDULE, [0], radius=1, pixels=torch.tensor([[0, N]])), "pixels"),
        (lambda m, x, c: pixel_locality(m, x[:, 0], c, SCHEDULE, [0], radius=1), "images"),
        (lambda m, x, c: pixel_locality(m, x, c[:1], SCHEDULE, [0], radius=1), "conditions"),
        (lambda m, x, c: conditional_locality(m, x, torch.zeros_like(c), SCHEDULE, [0], radius=1), "conditions"),
    ],
)
def test_bad_arguments_are_named(call, field):
    images, conditions = requests()
    with pytest.raises(ValueError, match=f"^{field}="):
        call(LocalByHand(KERNEL5), images, conditions)
