"""The noise schedule and samplers against the DDPM / DDIM formulas."""

import pytest
import torch

from diffcomp.diffusion.sampling import sample
from diffcomp.diffusion.schedule import (
    add_noise,
    clean_image_weight,
    ddim_step,
    ddim_timesteps,
    ddpm_step,
    linear_schedule,
    predict_x0,
)


def test_linear_schedule_endpoints_and_cumulative_product():
    s = linear_schedule(1000, 1e-4, 0.02)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    assert s.alpha_bars[10].item() == pytest.approx(torch.prod(1 - s.betas[:11].double()).item(), rel=1e-5)
    assert s.alpha_bars[-1].item() == pytest.approx(4.04e-5, rel=0.01)  # the familiar DDPM value


def test_forward_process_and_its_inverse():
    s = linear_schedule(100)
    x0, eps, t = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.tensor([0, 10, 50, 99])
    xt = add_noise(s, x0, t, eps)
    ab = s.alpha_bars[t].view(-1, 1, 1, 1)
    assert torch.allclose(xt, ab.sqrt() * x0 + (1 - ab).sqrt() * eps, atol=1e-6)
    assert torch.allclose(predict_x0(s, xt, t, eps), x0, atol=1e-4)


def test_ddpm_step_mean_formula():
    s = linear_schedule(10)
    xt, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    t = 5
    mean = (xt - s.betas[t] / (1 - s.alpha_bars[t]).sqrt() * eps) / s.alphas[t].sqrt()
    assert torch.allclose(ddpm_step(s, xt, t, eps, torch.zeros_like(xt)), mean, atol=1e-6)
    assert torch.allclose(
        ddpm_step(s, xt, 0, eps, torch.randn_like(xt)),
        (xt - s.betas[0] / (1 - s.alpha_bars[0]).sqrt() * eps) / s.alphas[0].sqrt(),
    )


def test_samplers_recover_the_data_point_with_an_oracle_noise_predictor():
    """With eps_fn the exact noise of a single data point, both samplers must land on that point."""
    s = linear_schedule(200)
    target = torch.rand(1, 1, 4, 4) * 2 - 1

    def oracle(x, t):
        ab = s.alpha_bars[t].view(-1, 1, 1, 1)
        return (x - ab.sqrt() * target) / (1 - ab).sqrt()

    for method in ("ddim", "ddpm"):
        out = sample(oracle, s, (3, 1, 4, 4), method=method, steps=20, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(out, target.expand(3, -1, -1, -1), atol=1e-3), method


def test_ddim_timesteps_descend_to_zero():
    steps = ddim_timesteps(1000, 100)
    assert len(steps) == 100 and steps[0] == 999 and steps[-1] == 0 and steps == sorted(steps, reverse=True)
    with pytest.raises(ValueError, match=r"DDIM steps must be in \[1, 1000\]"):
        ddim_timesteps(1000, 0)


def test_ddim_step_to_the_clean_image_returns_x0():
    s = linear_schedule(50)
    x0, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    xt = add_noise(s, x0, torch.tensor([30, 30]), eps)
    assert torch.allclose(ddim_step(s, xt, 30, -1, eps), x0, atol=1e-4)


def test_clipping_changes_nothing_inside_the_data_range_and_bounds_x0_outside():
    s = linear_schedule(100)
    x0 = torch.rand(2, 1, 4, 4) * 1.8 - 0.9
    eps = torch.randn(2, 1, 4, 4)
    xt = add_noise(s, x0, torch.tensor([40, 40]), eps)
    assert torch.allclose(
        ddpm_step(s, xt, 40, eps, torch.zeros_like(xt), clip=True),
        ddpm_step(s, xt, 40, eps, torch.zeros_like(xt)),
        atol=1e-5,
    )
    assert torch.allclose(ddim_step(s, xt, 40, 20, eps, clip=True), ddim_step(s, xt, 40, 20, eps), atol=1e-5)
    # a wild noise prediction: unclipped, the next state overshoots the data range far more
    wild = eps * 20
    clipped = ddim_step(s, xt, 40, -1, wild, clip=True)
    assert clipped.abs().max() <= 1.0 + 1e-5 and ddim_step(s, xt, 40, -1, wild).abs().max() > 3


def test_the_clean_image_weight_is_what_the_epsilon_loss_puts_on_the_x0_error():
    # ||eps - eps_hat||^2 = abar/(1-abar) ||x0 - x0_hat||^2; on the paper's schedule (1 000 steps,
    # 1e-4 .. 0.02) it falls from 1.9 at t=200 to 4e-5 at t=999 (issue 19.9's figures)
    schedule = linear_schedule(1000, 1e-4, 0.02)
    weight = clean_image_weight(schedule)
    for t, expected in ((200, 1.9), (400, 0.24), (599, 0.027), (799, 1.5e-3), (999, 4e-5)):
        assert weight[t].item() == pytest.approx(expected, rel=0.1)
    x0, eps = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    t = torch.tensor([10, 300, 900])
    xt = add_noise(schedule, x0, t, eps)
    x0_error = 0.01 * torch.randn_like(x0)
    eps_hat = (
        eps - (schedule.alpha_bars[t].sqrt() / (1 - schedule.alpha_bars[t]).sqrt()).reshape(-1, 1, 1, 1) * x0_error
    )
    assert torch.allclose(predict_x0(schedule, xt, t, eps_hat) - x0, x0_error, atol=1e-4)
    lhs = ((eps - eps_hat) ** 2).flatten(1).sum(1)
    rhs = weight[t].float() * (x0_error**2).flatten(1).sum(1)
    torch.testing.assert_close(lhs, rhs, rtol=1e-4, atol=1e-8)
