"""Condition directions and their cosine similarities (Bradley et al., Sec. 7.1 heuristic).

Why: for a compositional (CPC) model each condition moves the representation along its own
direction, and distinct conditions' directions are orthogonal: ``d_i = mu_i - mu_b`` with
``mu_i`` the mean feature under the single condition ``{c_i}`` and ``mu_b`` under no condition;
low ``|cos(d_i, d_j)|`` is a necessary (not sufficient) sign of disentanglement.

Simple version used here: the "feature" is a named layer's output (``output`` = the predicted
noise itself, i.e. the score up to scale), evaluated on a fixed batch of pure-noise inputs at one
timestep ``t`` (high noise, where the paper argues composition is set), and averaged over that
batch. For the local model, two conditions farther apart than twice its condition radius have
disjoint supports at the output, so their cosine is exactly 0 there by construction; for the
global model nothing forces it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from diffcomp.model.capture import capture_layer


def single_condition_sets(locations: Tensor, max_conditions: int) -> Tensor:
    """One padded set per location [M, K, 3] (slot 0 set), plus the empty set as the last row."""
    m = len(locations)
    sets = torch.zeros(m + 1, max_conditions, 3)
    sets[:m, 0, :2] = locations.float()
    sets[:m, 0, 2] = 1.0
    return sets


@torch.no_grad()
def condition_directions(
    model: nn.Module,
    locations: Tensor,
    max_conditions: int,
    t: int,
    num_noise: int = 32,
    layer: str = "output",
    seed: int = 0,
) -> Tensor:
    """Directions ``d_i`` [M, D]: mean feature under ``{c_i}`` minus mean feature under the empty set."""
    device = next(model.parameters()).device
    size = model.image_size
    sets = single_condition_sets(locations, max_conditions).to(device)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(num_noise, 1, size, size, generator=generator).to(device)
    steps = torch.full((num_noise,), int(t), device=device, dtype=torch.long)
    means = []
    was_training = model.training
    model.eval()
    try:
        for cond in sets:
            batch = cond[None].expand(num_noise, -1, -1)
            if layer == "output":
                feature = model(noise, steps, batch)
            else:
                with capture_layer(model, layer) as captured:
                    model(noise, steps, batch)
                feature = captured.last
            means.append(feature.float().flatten(1).mean(dim=0))
    finally:
        model.train(was_training)
    means = torch.stack(means)
    return (means[:-1] - means[-1]).cpu()


def cosine_matrix(directions: Tensor) -> Tensor:
    """Pairwise cosine similarities [M, M] of the rows of ``directions`` (zero rows give 0)."""
    unit = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


def off_diagonal_summary(cosines: Tensor) -> dict[str, float]:
    """Mean and max of ``|cos|`` over distinct pairs."""
    m = len(cosines)
    if m < 2:
        return {"mean_abs_cos": float("nan"), "max_abs_cos": float("nan")}
    off = cosines[~torch.eye(m, dtype=torch.bool)].abs()
    return {"mean_abs_cos": float(off.mean()), "max_abs_cos": float(off.max())}
