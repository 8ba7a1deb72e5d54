"""A denoiser with *local conditional scores* by construction (the "local" model; Bradley et al., exp. 3).

Why: Bradley et al. show that forcing the score at pixel i to depend only on nearby pixels and
nearby conditions (LCS) restores length generalisation where a globally conditioned model learned
a shortcut. This module enforces that structure architecturally:

* the condition set is rendered as a spatial map - one channel holding a small Gaussian bump
  (``render``'s formula, width ``cond_sigma``) at every conditioned location, cut to zero outside
  a ``(2 cond_radius + 1)^2`` window so its support is strictly bounded;
* ``[x_t, map]`` go through a fully convolutional network: a 3x3 stem, then ``depth`` residual
  blocks (3x3 conv, FiLM by the timestep, SiLU, 1x1 conv), then a 1x1 head;
* time enters only as a per-channel scale and shift (the same at every pixel);
* no pooling, no attention, no normalisation over the map (GroupNorm's statistics would couple all
  pixels), zero padding.

Receptive field: every 3x3 convolution widens it by one pixel, 1x1 convolutions don't, so the
output at pixel p depends only on the inputs ``x_t[q]`` with ``|p - q|_inf <= R = 1 + depth``
(a (2R+1)^2 window: 11 x 11 for the default depth 4) and only on conditions ``c`` with
``|p - c|_inf <= R + cond_radius`` (6 for the defaults). :meth:`LocalDenoiser.receptive_radius`
returns both; the tests check them by perturbing inputs and conditions just outside.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diffcomp.data.render import render
from diffcomp.model.unet import sinusoidal_encoding


def condition_map(conditions: Tensor, size: int, sigma: float = 0.5, radius: int = 1) -> Tensor:
    """Render a padded condition set [B, K, 3] as one channel [B, 1, N, N] of truncated bumps (max over K)."""
    b, k, _ = conditions.shape
    flat = conditions.reshape(b * k, 3).float()
    ink = 1.0 - render(flat[:, :2], size, sigma, sigma, "bump") / 255.0  # [BK, N, N]
    coords = torch.arange(1, size + 1, device=flat.device, dtype=flat.dtype)
    near_x = (coords[None, None, :] - flat[:, 0, None, None]).abs() <= radius
    near_y = (coords[None, :, None] - flat[:, 1, None, None]).abs() <= radius
    keep = near_x & near_y & (flat[:, 2, None, None] > 0.5)
    return (ink * keep).reshape(b, k, size, size).amax(dim=1, keepdim=True)


class LocalBlock(nn.Module):
    """Residual ``h + conv1x1(SiLU(FiLM_t(conv3x3(SiLU(h)))))``: receptive field +1 pixel."""

    def __init__(self, width: int, time_dim: int):
        super().__init__()
        self.spatial = nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(time_dim, 2 * width)
        self.mix = nn.Conv2d(width, width, 1)

    def forward(self, h: Tensor, time: Tensor) -> Tensor:
        scale, shift = self.film(time)[:, :, None, None].chunk(2, dim=1)
        z = self.spatial(F.silu(h)) * (1.0 + scale) + shift
        return h + self.mix(F.silu(z))


class LocalDenoiser(nn.Module):
    """Fully convolutional ``eps(x_t, t, C)`` with bounded receptive field; see the module docstring.

    Args:
        image_size: canvas side N (any size: the network is translation-equivariant).
        width: channels of every layer. depth: residual blocks (receptive radius 1 + depth).
        encoding_dim: length of the timestep's sinusoidal encoding.
        cond_sigma, cond_radius: width (papers' convention) and half-window of the rendered conditions.
    """

    LAYERS = ()  # no probed layer: the direction probe reads the output or a block by name

    @classmethod
    def validate_config(cls, node, prefix: str = "model", root=None) -> None:
        from diffcomp.config.checks import number, require

        size = node.get("image_size")
        require(isinstance(size, int) and 4 <= size <= 256, "data.size", size, "an integer in [4, 256]")
        number(node, "width", lo=1, integer=True, prefix=prefix)
        number(node, "depth", lo=0, integer=True, prefix=prefix)
        encoding = int(number(node, "encoding_dim", lo=2, integer=True, prefix=prefix))
        require(encoding % 2 == 0, f"{prefix}.encoding_dim", encoding, "an even integer >= 2")
        number(node, "cond_sigma", lo=0, lo_open=True, prefix=prefix)
        number(node, "cond_radius", lo=0, integer=True, prefix=prefix)

    def __init__(
        self,
        image_size: int = 16,
        width: int = 32,
        depth: int = 4,
        encoding_dim: int = 64,
        cond_sigma: float = 0.5,
        cond_radius: int = 1,
    ):
        super().__init__()
        self.image_size = image_size
        self.encoding_dim = encoding_dim
        self.cond_sigma = cond_sigma
        self.cond_radius = cond_radius
        self.time = nn.Sequential(nn.Linear(encoding_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.stem = nn.Conv2d(2, width, 3, padding=1)
        self.stages = nn.ModuleDict({f"block{i + 1}": LocalBlock(width, width) for i in range(depth)})
        self.head = nn.Conv2d(width, 1, 1)

    def receptive_radius(self) -> dict[str, int]:
        """Max-norm radius of the pixels (``pixels``) and conditions (``conditions``) one output sees."""
        pixels = 1 + len(self.stages)
        return {"pixels": pixels, "conditions": pixels + self.cond_radius}

    def forward(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        cmap = condition_map(labels, x.shape[-1], self.cond_sigma, self.cond_radius).to(x.dtype)
        time = self.time(sinusoidal_encoding(t, self.encoding_dim).to(x.dtype))
        h = self.stem(torch.cat([x, cmap], dim=1))
        for block in self.stages.values():
            h = block(h, time)
        return self.head(F.silu(h))
