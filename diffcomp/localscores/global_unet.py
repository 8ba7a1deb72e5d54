"""The paper's UNet conditioned on a *global* embedding of the set of locations (the "global" model).

Why: this is the architecture whose conditioning is a single vector broadcast to every pixel, so
nothing ties a condition to the place it names - the model may learn an additive, per-condition
mechanism (if the data teach it one: every bump labelled) or a shortcut (one label for a scene of
several bumps). It is :class:`diffcomp.model.unet.UNet` unchanged except for ``conditioning``:
the x/y encodings are replaced by a DeepSets embedding of the condition set,

    e(C) = pool_{j : mask_j = 1} phi([sin_enc(mu_x^j), sin_enc(mu_y^j)]),

with ``phi`` a small per-location MLP and ``pool`` a masked sum (default: its size grows with the
number of conditions, so "how many" is in the embedding) or mean. The result (2 x encoding_dim)
is concatenated with the timestep encoding, so every block sees the same 3 x encoding_dim vector
as in the paper's UNet. Self-attention, GroupNorm over the whole map and the broadcast condition
make the score at any pixel depend on every pixel and every condition.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from diffcomp.model.unet import UNet, sinusoidal_encoding

POOLINGS = ("sum", "mean")


class SetConditionedUNet(UNet):
    """``eps(x_t, t, C)`` with ``C`` a padded condition set [B, K, 3] of ``(mu_x, mu_y, mask)``.

    Args: those of :class:`~diffcomp.model.unet.UNet`, plus ``pooling`` (``sum`` or ``mean``).
    """

    @classmethod
    def validate_config(cls, node, prefix: str = "model", root=None) -> None:
        from diffcomp.config.checks import choice

        super().validate_config(node, prefix)
        choice(node, "pooling", POOLINGS, prefix=prefix)

    def __init__(
        self,
        image_size: int = 16,
        channels: tuple[int, int, int, int] | list[int] = (16, 32, 64, 64),
        bottleneck: int = 128,
        encoding_dim: int = 64,
        heads: int = 4,
        pooling: str = "sum",
    ):
        super().__init__(image_size, channels, bottleneck, encoding_dim, heads)
        if pooling not in POOLINGS:
            raise ValueError(f"unknown set pooling {pooling!r}; allowed: {', '.join(POOLINGS)}")
        self.pooling = pooling
        width = 2 * encoding_dim
        self.element = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def set_embedding(self, conditions: Tensor) -> Tensor:
        """Masked sum (or mean) of per-location embeddings: [B, K, 3] -> [B, 2 * encoding_dim]."""
        b, k, _ = conditions.shape
        d = self.encoding_dim
        flat = conditions.reshape(b * k, 3)
        encoded = torch.cat([sinusoidal_encoding(flat[:, 0], d), sinusoidal_encoding(flat[:, 1], d)], dim=1)
        per_location = self.element(encoded).reshape(b, k, 2 * d)
        mask = conditions[:, :, 2:3].to(per_location.dtype)
        pooled = (per_location * mask).sum(dim=1)
        if self.pooling == "mean":
            pooled = pooled / mask.sum(dim=1).clamp_min(1.0)
        return pooled

    def conditioning(self, t: Tensor, labels: Tensor) -> Tensor:
        """Timestep encoding concatenated with the set embedding: [B, 3 * encoding_dim]."""
        return torch.cat([sinusoidal_encoding(t, self.encoding_dim), self.set_embedding(labels)], dim=1)
