"""The training set's exact optimal denoiser (``model=ideal``, issue 19.8): the posterior mean over the
training images, conditioned by a kernel over their labels. Pinned by its formula and by what it must
do: at a training label it reproduces that label's training image; elsewhere it returns the images of
the nearest training labels (what pure memorisation generates)."""

import math

import pytest
import torch
from support import TINY, compose_config

from diffcomp.diffusion.ideal import IdealDenoiser, set_distance2
from diffcomp.diffusion.sampling import sample
from diffcomp.diffusion.schedule import linear_schedule
from diffcomp.train import run

N = 8


def training_set(count: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` distinct images in [-1, 1] and their labels (x, y) on a line, 2 px apart."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(count, 1, N, N, generator=g) * 2 - 1
    labels = torch.stack([torch.arange(count) * 2.0 + 1, torch.full((count,), 3.0)], dim=1)
    return images, labels


def ideal(width: float = 0.0, chunk: int = 2048, count: int = 5, steps: int = 100) -> IdealDenoiser:
    images, labels = training_set(count)
    model = IdealDenoiser(image_size=N, label_width=width, chunk=chunk)
    model.memorise(images, labels, linear_schedule(steps, 1e-3, 0.2).alpha_bars)
    return model


def test_the_posterior_mean_is_the_kernel_and_likelihood_weighted_mean_of_the_training_images():
    model, width = ideal(width=1.5), 1.5
    images, labels = training_set()
    abar = model.alpha_bars
    x = torch.randn(3, 1, N, N, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([5, 40, 90])
    requests = torch.tensor([[2.0, 3.0], [6.5, 3.0], [9.0, 4.0]])
    got = model.posterior_mean(x, t, requests)
    for b in range(3):  # the formula of the module docstring, term by term
        a = abar[t[b]]
        log_w = torch.tensor(
            [
                -((x[b].double() - a.sqrt() * images[i].double()) ** 2).sum() / (2 * (1 - a))
                - ((requests[b].double() - labels[i].double()) ** 2).sum() / (2 * width**2)
                for i in range(len(images))
            ]
        )
        w = torch.softmax(log_w, 0)
        expected = (w[:, None, None, None] * images.double()).sum(0)
        torch.testing.assert_close(got[b], expected, rtol=1e-9, atol=1e-9)


def test_as_an_epsilon_predictor_it_inverts_the_forward_process_through_its_clean_image():
    model = ideal()
    x = torch.randn(4, 1, N, N, generator=torch.Generator().manual_seed(2))
    t, c = torch.tensor([0, 10, 50, 99]), training_set()[1][:4]
    eps = model(x, t, c).double()
    abar = model.alpha_bars[t].reshape(-1, 1, 1, 1)
    x0 = (x.double() - (1 - abar).sqrt() * eps) / abar.sqrt()
    # eps comes back in float32 (the input dtype); at t = 99 dividing by sqrt(abar) magnifies its rounding
    torch.testing.assert_close(x0, model.posterior_mean(x, t, c), rtol=0, atol=1e-4)


def test_streaming_over_chunks_gives_the_same_mean_as_one_block():
    x = torch.randn(2, 1, N, N, generator=torch.Generator().manual_seed(3))
    t, c = torch.tensor([20, 70]), torch.tensor([[4.0, 3.0], [5.0, 3.0]])
    one, streamed = ideal(width=2.0).posterior_mean(x, t, c), ideal(width=2.0, chunk=2).posterior_mean(x, t, c)
    torch.testing.assert_close(one, streamed, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_sampling_at_a_training_label_reproduces_that_training_image(method):
    model = ideal(width=0.0)
    images, labels = training_set()
    schedule = linear_schedule(100, 1e-3, 0.2)
    out = sample(
        lambda x, t: model(x, t, labels),
        schedule,
        (len(labels), 1, N, N),
        method=method,
        steps=20,
        generator=torch.Generator().manual_seed(4),
        clip=False,
    )
    torch.testing.assert_close(out, images, atol=0.02, rtol=0)


def test_at_a_held_out_label_it_returns_the_nearest_training_labels_image():
    model = ideal(width=0.0)
    images, _ = training_set()
    requests = torch.tensor([[3.6, 3.0], [8.4, 3.0]])  # nearest training labels: 3 (item 1) and 9 (item 4)
    x = torch.randn(2, 1, N, N, generator=torch.Generator().manual_seed(5))
    x0 = model.posterior_mean(x, torch.tensor([99, 99]), requests)  # even from pure noise
    torch.testing.assert_close(x0.float(), images[[1, 4]], atol=1e-6, rtol=0)


def test_the_set_distance_of_single_conditions_is_their_squared_distance_and_ignores_order():
    a = torch.tensor([[[1.0, 2.0, 1.0], [0.0, 0.0, 0.0]]])  # one condition at (1, 2), one empty slot
    b = torch.tensor([[[4.0, 6.0, 1.0], [0.0, 0.0, 0.0]]])
    assert set_distance2(a, b).item() == pytest.approx(25.0)
    two = torch.tensor([[[1.0, 2.0, 1.0], [5.0, 5.0, 1.0]]])
    swapped = two[:, [1, 0]]
    assert set_distance2(two, swapped).item() == 0.0
    assert math.isinf(set_distance2(a, torch.zeros(1, 2, 3)).item())  # a request is never an empty scene


def test_a_model_ideal_job_trains_nothing_and_scores_its_own_training_images(tmp_path):
    cfg = compose_config(
        [*TINY, "model=ideal", "eval.sampler=ddpm", "diffusion.timesteps=100", "eval.train_samples=32", "logger=none"]
    )
    record = run(cfg, tmp_path)
    assert record["timings"]["train_steps"] == 0
    assert "notes" in record and record["probe"]["layer"] is None
    metrics = record["metrics"]
    assert metrics["eval/train_score"] == pytest.approx(1.0)  # it reproduces what it memorised
    assert metrics["eval/train/acc"] == pytest.approx(1.0)


def test_with_one_training_image_per_label_its_score_depends_on_no_other_pixel():
    # width 0: x0_hat is that label's training image whatever x_t, so d eps / d x_t = I / sqrt(1 - abar):
    # nothing off the diagonal, and a locality share of the off-diagonal sensitivity is undefined
    model = ideal(width=0.0)
    c, t = training_set()[1][:1], torch.tensor([60])
    x = torch.randn(1, 1, N, N, generator=torch.Generator().manual_seed(6))
    jac = torch.autograd.functional.jacobian(lambda v: model(v.reshape(1, 1, N, N), t, c).flatten(), x.flatten())
    scale = 1 / (1 - model.alpha_bars[60]).sqrt().item()
    torch.testing.assert_close(jac, torch.eye(N * N) * scale, atol=1e-5, rtol=1e-5)
