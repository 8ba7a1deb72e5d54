"""Reverse-process samplers: ancestral DDPM and deterministic DDIM over a noise-prediction function.

The samplers only see ``eps_fn(x_t, t_batch) -> eps``; the conditioning labels are bound into that
function by the caller, so the same loop serves every model and dataset variant.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from diffcomp.diffusion.schedule import NoiseSchedule, ddim_step, ddim_timesteps, ddpm_step

EpsFn = Callable[[Tensor, Tensor], Tensor]
SAMPLERS = ("ddpm", "ddim")


@torch.no_grad()
def sample(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    shape: tuple[int, ...],
    method: str = "ddim",
    steps: int | None = None,
    generator: torch.Generator | None = None,
    device=None,
    clip: bool = True,
) -> Tensor:
    """Draw ``shape`` images by running the reverse process from pure noise.

    ``method='ddpm'`` runs all ``T`` ancestral steps (``steps`` ignored); ``'ddim'`` runs ``steps``
    deterministic steps (default 100). ``clip`` clamps each step's predicted clean image to the
    data range [-1, 1] (as common DDPM/DDIM implementations do): without it a half-trained model's
    errors compound and whole samples end as saturated noise.
    """
    if method not in SAMPLERS:
        raise ValueError(f"unknown sampler {method!r}; allowed: {', '.join(SAMPLERS)}")
    schedule = schedule.to(device)
    x = torch.randn(shape, generator=generator, device=device)
    batch = shape[0]
    if method == "ddpm":
        for t in reversed(range(schedule.num_steps)):
            tt = torch.full((batch,), t, device=device, dtype=torch.long)
            eps = eps_fn(x, tt).float()
            noise = torch.randn(shape, generator=generator, device=device) if t > 0 else None
            x = ddpm_step(schedule, x, t, eps, noise, clip)
        return x
    timesteps = ddim_timesteps(schedule.num_steps, steps or 100)
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        tt = torch.full((batch,), t, device=device, dtype=torch.long)
        x = ddim_step(schedule, x, t, t_prev, eps_fn(x, tt).float(), clip)
    return x
