"""Multi-bump scenes: separated locations, their canvases, and the padded condition sets.

Why this shape of data: Bradley et al. test *length generalisation* - train on scenes with few
objects, ask for more - with location-conditioned images. Here an object is the papers' Gaussian
bump (the formula of :func:`diffcomp.data.render.render`, reused as is), so a scene is k bumps.

Choices (documented because the experiment depends on them):

* **Locations** are integer pixel coordinates ``(mu_x, mu_y)`` in ``[1 + margin, N - margin]``
  (same convention as ``render``: x is the column, pixel (1, 1) top-left). Any two bumps of a
  scene are at least ``min_separation`` apart in the max-norm (Chebyshev distance). With sigma = 1
  a bump's "dark" region (ink > 1/2) has radius 1.67, so at separation 3 two diagonal neighbours'
  dark pixels touch (8-connectivity) and merge into one component; separation 4 is the smallest
  that keeps every pair distinguishable, hence the default.
* **Sampling** is random sequential placement: each bump is uniform among the cells still allowed
  by the earlier ones; a scene that jams (no cell left) is redrawn. The slots are then shuffled, so
  "slot 0" is a uniformly random bump of the scene (the one labelled in regime ``one``).
  Sequential placement is not exactly uniform over valid configurations (it slightly favours
  spread-out ones); exact rejection sampling is hopeless at k = 6 on a 16 x 16 canvas.
* **Composition**: ``min`` (default) takes the pixelwise minimum of the single-bump images (the
  darkest bump wins: each bump keeps its exact profile and its dark pixels, so a scene's dark set
  is the union of its bumps' dark sets); ``multiply`` multiplies the normalised single-bump images
  (brightness = product of transmittances, like stacked transparencies), so tails add up: two
  sigma = 1 bumps 4 apart merge into one dark component, and 5 are needed.
  :func:`distinguishable_separation` computes the smallest separation for either rule (checked by
  ``validate``); for ``min`` the pairwise check is exact, for ``multiply`` three or more tails
  can still add up where two don't.
* **Conditions** are a padded set ``[B, K, 3]`` of ``(mu_x, mu_y, mask)``; padded slots are all
  zero. Regime ``all`` labels every bump; regime ``one`` labels only slot 0 - the other bumps are
  still drawn in the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from diffcomp.data.render import render
from diffcomp.eval.readout import count_features

COMPOSITIONS = ("min", "multiply")
REGIMES = ("all", "one")


@dataclass(frozen=True)
class SceneSpec:
    """Canvas and placement rules shared by training and evaluation scenes."""

    size: int = 16
    sigma: float = 1.0
    min_separation: int = 4
    margin: int = 1
    composition: str = "min"

    @property
    def low(self) -> int:
        return 1 + self.margin

    @property
    def high(self) -> int:
        return self.size - self.margin

    @property
    def cells_per_axis(self) -> int:
        return self.high - self.low + 1

    def lattice_capacity(self) -> int:
        """Most bumps that fit at all: ``ceil(L / s)^2`` (the densest max-norm packing of an L x L grid)."""
        if self.cells_per_axis < 1:
            return 0
        return math.ceil(self.cells_per_axis / self.min_separation) ** 2


def sample_locations(
    counts: Tensor, max_conditions: int, spec: SceneSpec, generator: torch.Generator, max_attempts: int = 200
) -> tuple[Tensor, Tensor]:
    """Locations [B, K, 2] (float pixel coordinates) and validity [B, K] for scenes of ``counts[b]`` bumps.

    Vectorised over the batch; scenes that jam are redrawn (up to ``max_attempts`` rounds).
    """
    counts = counts.long().cpu()
    b, k_max, side = len(counts), max_conditions, spec.cells_per_axis
    if len(counts) and int(counts.max()) > k_max:
        raise ValueError(f"a scene asks for {int(counts.max())} bumps but max_conditions={k_max}")
    cells = torch.arange(side * side)
    gx, gy = (cells % side + spec.low).float(), (cells // side + spec.low).float()
    locations = torch.zeros(b, k_max, 2)
    pending = torch.arange(b)
    for _ in range(max_attempts):
        if len(pending) == 0:
            break
        need = counts[pending]
        allowed = torch.ones(len(pending), side * side)
        placed = torch.zeros(len(pending), k_max, 2)
        jammed = torch.zeros(len(pending), dtype=torch.bool)
        for slot in range(int(need.max())):
            active = need > slot
            empty = allowed.sum(1) == 0
            jammed |= active & empty
            weights = torch.where(empty[:, None], torch.ones_like(allowed), allowed)
            pick = torch.multinomial(weights, 1, generator=generator)[:, 0]
            x, y = gx[pick], gy[pick]
            placed[:, slot, 0] = torch.where(active, x, 0.0)
            placed[:, slot, 1] = torch.where(active, y, 0.0)
            near = ((gx[None, :] - x[:, None]).abs() < spec.min_separation) & (
                (gy[None, :] - y[:, None]).abs() < spec.min_separation
            )
            allowed = torch.where(active[:, None] & near, 0.0, allowed)
        locations[pending[~jammed]] = placed[~jammed]
        pending = pending[jammed]
    if len(pending):
        raise RuntimeError(
            f"could not place {int(counts.max())} bumps {spec.min_separation} apart on a {spec.size}x{spec.size} "
            f"canvas (margin {spec.margin}) in {max_attempts} attempts; lower the count or the separation"
        )
    valid = torch.arange(k_max)[None, :] < counts[:, None]
    return _shuffle_slots(locations, valid, generator), valid


def _shuffle_slots(locations: Tensor, valid: Tensor, generator: torch.Generator) -> Tensor:
    """Permute each scene's valid slots at random (padding stays at the end)."""
    keys = torch.rand(valid.shape, generator=generator) + (~valid).float() * 2.0
    order = keys.argsort(dim=1)
    return torch.gather(locations, 1, order[:, :, None].expand(-1, -1, 2))


def render_scenes(locations: Tensor, valid: Tensor, spec: SceneSpec) -> Tensor:
    """Canvases [B, N, N] in [0, 255] (dark bumps on bright) with a bump at every valid location."""
    if spec.composition not in COMPOSITIONS:
        raise ValueError(f"unknown composition {spec.composition!r}; allowed: {', '.join(COMPOSITIONS)}")
    b, k, _ = locations.shape
    single = render(locations.reshape(b * k, 2).float(), spec.size, spec.sigma, spec.sigma, "bump")
    brightness = (single / 255.0).reshape(b, k, spec.size, spec.size)
    brightness = torch.where(valid.to(brightness.device)[:, :, None, None], brightness, torch.ones_like(brightness))
    if spec.composition == "min":
        composed = brightness.min(dim=1).values
    else:
        composed = brightness.prod(dim=1)
    return 255.0 * composed


def condition_sets(locations: Tensor, valid: Tensor, regime: str = "all") -> Tensor:
    """Padded conditions [B, K, 3] = ``(mu_x, mu_y, mask)``: every valid slot, or slot 0 alone."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; allowed: {', '.join(REGIMES)}")
    mask = valid.clone()
    if regime == "one":
        mask[:, 1:] = False
    mask_f = mask.to(locations.dtype)
    return torch.cat([locations * mask_f[:, :, None], mask_f[:, :, None]], dim=2)


def balanced_counts(counts: list[int] | tuple[int, ...], total: int, generator: torch.Generator) -> Tensor:
    """``total`` bump counts, as equal a share of each value in ``counts`` as possible, shuffled."""
    values = torch.tensor(list(counts), dtype=torch.long)
    tiled = values.repeat(-(-total // len(values)))[:total]
    return tiled[torch.randperm(total, generator=generator)]


def make_scenes(
    counts: Tensor, max_conditions: int, spec: SceneSpec, regime: str, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Images [B, N, N] in [0, 255] and their conditions [B, K, 3] for scenes of ``counts`` bumps."""
    locations, valid = sample_locations(counts, max_conditions, spec, generator)
    return render_scenes(locations, valid, spec), condition_sets(locations, valid, regime)


def distinguishable_separation(
    sigma: float, composition: str = "min", ink_threshold: float = 0.5, limit: int = 64
) -> int:
    """Smallest max-norm separation at which every pair of bumps shows as two dark components.

    Checks every integer offset between two bumps from that separation up to where their dark
    regions can no longer meet (8-connectivity, ``ink > ink_threshold``).
    """
    reach = 2 * math.ceil(2.0 * sigma * math.sqrt(max(math.log(1.0 / ink_threshold), 0.0))) + 3
    size = 2 * reach + 5
    centre = float(reach + 3)
    offsets = torch.tensor(
        [(dx, dy) for dx in range(0, reach + 1) for dy in range(-reach, reach + 1) if (dx, dy) > (0, 0)]
    )
    first = torch.full((len(offsets), 2), centre)
    locations = torch.stack([first, first + offsets.float()], dim=1)
    valid = torch.ones(len(offsets), 2, dtype=torch.bool)
    spec = SceneSpec(size=size, sigma=sigma, min_separation=1, margin=0, composition=composition)
    apart = count_features(render_scenes(locations, valid, spec).numpy(), ink_threshold) == 2
    chebyshev = offsets.abs().amax(dim=1).numpy()
    for separation in range(1, min(limit, reach + 1) + 1):
        if apart[chebyshev >= separation].all():
            return separation
    return reach + 1
