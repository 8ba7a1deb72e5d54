"""The DDPM noise schedule as pure tensor functions (Ho et al. 2020; main paper appendix A.4).

Kept free of modules and state so that tests can check each formula directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class NoiseSchedule:
    """Precomputed per-timestep constants; index ``t`` runs over ``0 .. T-1``."""

    betas: Tensor
    alphas: Tensor
    alpha_bars: Tensor

    @property
    def num_steps(self) -> int:
        return len(self.betas)

    def to(self, device) -> NoiseSchedule:
        return NoiseSchedule(self.betas.to(device), self.alphas.to(device), self.alpha_bars.to(device))


def linear_schedule(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """Linear betas from ``beta_start`` to ``beta_end`` (the DDPM default), ``alpha_bar_t = prod(1 - beta)``."""
    betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    alphas = 1.0 - betas
    alpha_bars = torch.cumprod(alphas, dim=0)
    return NoiseSchedule(betas.float(), alphas.float(), alpha_bars.float())


def _per_sample(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    return values[t].reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)


def add_noise(schedule: NoiseSchedule, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """Forward process ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps``."""
    abar = _per_sample(schedule.alpha_bars, t, x0)
    return abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise


def predict_x0(schedule: NoiseSchedule, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """Invert the forward process for ``x0`` given the predicted noise."""
    abar = _per_sample(schedule.alpha_bars, t, xt)
    return (xt - (1.0 - abar).sqrt() * eps) / abar.sqrt()


def clean_image_weight(schedule: NoiseSchedule) -> Tensor:
    """``abar_t / (1 - abar_t)`` [T] (float64): how much the epsilon-loss weighs a model's clean-image error,
    ``||eps - eps_hat||^2 = abar_t / (1 - abar_t) ||x0 - x0_hat||^2`` (from :func:`predict_x0`). Where it is
    small (high noise), training barely constrains what the model does to the image."""
    abar = schedule.alpha_bars.double()
    return abar / (1.0 - abar)


def ddpm_step(schedule: NoiseSchedule, xt: Tensor, t: int, eps: Tensor, noise: Tensor, clip: bool = False) -> Tensor:
    """One ancestral step ``x_{t-1} = (x_t - beta_t/sqrt(1-abar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) z``.

    Uses ``sigma_t^2 = beta_t`` (DDPM's "fixed large" variance) and no noise at ``t = 0``. With
    ``clip`` the mean is the posterior mean ``q(x_{t-1} | x_t, x0)`` around the predicted ``x0``
    clamped to the data range [-1, 1] (identical when the prediction is inside it): an imperfect
    model's excursions then cannot compound over the 1 000 steps.
    """
    beta, alpha, abar = schedule.betas[t], schedule.alphas[t], schedule.alpha_bars[t]
    if clip:
        abar_prev = schedule.alpha_bars[t - 1] if t > 0 else torch.ones_like(abar)
        x0 = ((xt - (1.0 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1.0, 1.0)
        mean = (abar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1.0 - abar_prev) * xt) / (1.0 - abar)
    else:
        mean = (xt - beta / (1.0 - abar).sqrt() * eps) / alpha.sqrt()
    if t == 0:
        return mean
    return mean + beta.sqrt() * noise


def ddim_step(schedule: NoiseSchedule, xt: Tensor, t: int, t_prev: int, eps: Tensor, clip: bool = False) -> Tensor:
    """Deterministic DDIM step (eta = 0) from ``t`` to ``t_prev`` (``t_prev = -1`` means the clean image).

    With ``clip`` the predicted ``x0`` is clamped to [-1, 1] and the noise re-derived from it.
    """
    abar = schedule.alpha_bars[t]
    abar_prev = schedule.alpha_bars[t_prev] if t_prev >= 0 else torch.ones_like(abar)
    x0 = (xt - (1.0 - abar).sqrt() * eps) / abar.sqrt()
    if clip:
        x0 = x0.clamp(-1.0, 1.0)
        eps = (xt - abar.sqrt() * x0) / (1.0 - abar).sqrt()
    return abar_prev.sqrt() * x0 + (1.0 - abar_prev).sqrt() * eps


def ddim_timesteps(num_train_steps: int, num_sample_steps: int) -> list[int]:
    """Evenly spaced descending timesteps for DDIM, always ending at ``t = 0``."""
    if not 1 <= num_sample_steps <= num_train_steps:
        raise ValueError(f"DDIM steps must be in [1, {num_train_steps}], got {num_sample_steps}")
    steps = torch.linspace(0, num_train_steps - 1, num_sample_steps).round().long().unique()
    return steps.flip(0).tolist()
