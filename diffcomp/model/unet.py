"""The paper's conditional UNet (main paper, appendix A.1 and Fig. 7).

Three down and three up blocks (max-pool / bilinear upsample, then two double convolutions with
GroupNorm and GELU), self-attention after each block, skip connections, and a conditioning vector
made by *concatenating* fixed sinusoidal encodings of the timestep and of the x and y positions,
projected and added at every block. The paper keeps the position labels continuous by encoding
them explicitly instead of learning an embedding table; we do the same.

With ``channels=(64, 128, 256, 256)``, ``bottleneck=512`` and ``encoding_dim=128`` (the defaults)
this is the widely used public DDPM UNet: 23.4 M parameters at 1x32x32.

Representation layers: every stage is a named child of :attr:`UNet.stages`; the activation after
a stage (block + attention) is what :func:`diffcomp.model.capture.capture_layer` records. The
paper's "layer 4" is ``down3`` at N=32, a 4x4x256 map; the default probe (``eval.probe_layer=auto``)
keeps that 4x4 geometry at every N (``down2`` at N=16; see :func:`diffcomp.model.capture.auto_layer`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoidal_encoding(values: Tensor, dim: int, base: float = 10000.0) -> Tensor:
    """Transformer-style encoding ``[sin(v w_i), cos(v w_i)]`` with ``w_i = base^(-2i/dim)``; [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(base) * torch.arange(half, device=values.device, dtype=torch.float32) / half)
    angles = values.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class DoubleConv(nn.Module):
    """conv3x3 -> GroupNorm -> GELU -> conv3x3 -> GroupNorm, optionally residual (then GELU)."""

    def __init__(self, in_ch: int, out_ch: int, mid_ch: int | None = None, residual: bool = False):
        super().__init__()
        mid_ch = mid_ch or out_ch
        self.residual = residual
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 3, padding=1, bias=False),
            nn.GroupNorm(1, mid_ch),
            nn.GELU(),
            nn.Conv2d(mid_ch, out_ch, 3, padding=1, bias=False),
            nn.GroupNorm(1, out_ch),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x + self.net(x)) if self.residual else self.net(x)


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention over pixels plus a feed-forward, both residual.

    Uses ``scaled_dot_product_attention`` so PyTorch picks a fused kernel where one exists.
    """

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        if channels % heads:
            raise ValueError(f"model.heads={heads} must divide the width {channels}")
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.ff = nn.Sequential(
            nn.LayerNorm(channels), nn.Linear(channels, channels), nn.GELU(), nn.Linear(channels, channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # [B, HW, C]
        q, k, v = self.qkv(self.norm(tokens)).chunk(3, dim=-1)
        q, k, v = (z.reshape(b, h * w, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, h * w, c)
        tokens = tokens + self.proj(attended)
        tokens = tokens + self.ff(tokens)
        return tokens.transpose(1, 2).reshape(b, c, h, w)


class Down(nn.Module):
    """Max-pool, two double convolutions, plus the projected conditioning vector."""

    def __init__(self, in_ch: int, out_ch: int, cond_dim: int):
        super().__init__()
        self.convs = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_ch, in_ch, residual=True), DoubleConv(in_ch, out_ch))
        self.cond = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, out_ch))

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        return self.convs(x) + self.cond(cond)[:, :, None, None]


class Up(nn.Module):
    """Bilinear upsample, concatenate the skip, two double convolutions, plus the conditioning."""

    def __init__(self, in_ch: int, out_ch: int, cond_dim: int):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.convs = nn.Sequential(DoubleConv(in_ch, in_ch, residual=True), DoubleConv(in_ch, out_ch, in_ch // 2))
        self.cond = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, out_ch))

    def forward(self, x: Tensor, skip: Tensor, cond: Tensor) -> Tensor:
        x = torch.cat([skip, self.up(x)], dim=1)
        return self.convs(x) + self.cond(cond)[:, :, None, None]


class Stage(nn.Module):
    """A down or up block followed by its self-attention: the unit whose output is a named layer."""

    def __init__(self, block: nn.Module, attention: nn.Module):
        super().__init__()
        self.block = block
        self.attention = attention

    def forward(self, *args: Tensor) -> Tensor:
        return self.attention(self.block(*args))


class UNet(nn.Module):
    """Conditional noise predictor ``eps(x_t, t, (mu_x, mu_y))`` of the papers.

    Args:
        image_size: canvas side N (must be divisible by 8: three poolings).
        channels: widths of the stem and the three down blocks ``(c0, c1, c2, c3)``.
        bottleneck: width of the middle double convolutions.
        encoding_dim: length of each sinusoidal encoding; the conditioning is ``3 * encoding_dim``.
        heads: attention heads in every self-attention layer.
    """

    STAGE_NAMES = ("down1", "down2", "down3", "up1", "up2", "up3")
    LAYERS = (*STAGE_NAMES, "middle")  # what eval.probe_layer may name

    @staticmethod
    def map_sizes(image_size: int) -> dict[str, int]:
        """Side of each named layer's square output map at canvas ``image_size``, in forward order
        (each down block pools by 2, each up block doubles)."""
        n = image_size
        return {
            "down1": n // 2,
            "down2": n // 4,
            "down3": n // 8,
            "middle": n // 8,
            "up1": n // 4,
            "up2": n // 2,
            "up3": n,
        }

    @classmethod
    def validate_config(cls, node, prefix: str = "model", root=None) -> None:
        """Check a ``model`` config node before anything is built, naming the field."""
        from diffcomp.config.checks import number, numbers, require

        size = node.get("image_size")
        require(
            isinstance(size, int) and size >= 8 and size % 8 == 0,
            "data.size",
            size,
            "a multiple of 8 (the UNet pools three times)",
        )
        channels = [int(c) for c in numbers(node, "channels", lo=1, integer=True, length=4, prefix=prefix)]
        number(node, "bottleneck", lo=1, integer=True, prefix=prefix)
        heads = int(number(node, "heads", lo=1, integer=True, prefix=prefix))
        require(
            all(c % heads == 0 for c in channels), f"{prefix}.heads", heads, f"a divisor of every width in {channels}"
        )
        encoding = int(number(node, "encoding_dim", lo=2, integer=True, prefix=prefix))
        require(encoding % 2 == 0, f"{prefix}.encoding_dim", encoding, "an even integer >= 2")

    def __init__(
        self,
        image_size: int = 32,
        channels: tuple[int, int, int, int] | list[int] = (64, 128, 256, 256),
        bottleneck: int = 512,
        encoding_dim: int = 128,
        heads: int = 4,
        in_channels: int = 1,
    ):
        super().__init__()
        if image_size % 8:
            raise ValueError(f"data.size={image_size} must be divisible by 8 for the UNet's three poolings")
        if len(channels) != 4:
            raise ValueError(f"model.channels needs 4 widths (stem + 3 down blocks), got {list(channels)}")
        c0, c1, c2, c3 = channels
        self.image_size = image_size
        self.encoding_dim = encoding_dim
        cond = 3 * encoding_dim
        self.stem = DoubleConv(in_channels, c0)
        self.stages = nn.ModuleDict(
            {
                "down1": Stage(Down(c0, c1, cond), SelfAttention(c1, heads)),
                "down2": Stage(Down(c1, c2, cond), SelfAttention(c2, heads)),
                "down3": Stage(Down(c2, c3, cond), SelfAttention(c3, heads)),
                "up1": Stage(Up(c3 + c2, c1, cond), SelfAttention(c1, heads)),
                "up2": Stage(Up(c1 + c1, c0, cond), SelfAttention(c0, heads)),
                "up3": Stage(Up(c0 + c0, c0, cond), SelfAttention(c0, heads)),
            }
        )
        self.middle = nn.Sequential(
            DoubleConv(c3, bottleneck), DoubleConv(bottleneck, bottleneck), DoubleConv(bottleneck, c3)
        )
        self.head = nn.Conv2d(c0, in_channels, 1)

    def conditioning(self, t: Tensor, labels: Tensor) -> Tensor:
        """Concatenated sinusoidal encodings of ``t``, ``mu_x`` and ``mu_y``: [B, 3 * encoding_dim]."""
        d = self.encoding_dim
        return torch.cat(
            [sinusoidal_encoding(t, d), sinusoidal_encoding(labels[:, 0], d), sinusoidal_encoding(labels[:, 1], d)],
            dim=1,
        )

    def forward(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        cond = self.conditioning(t, labels).to(x.dtype)
        s = self.stages
        x0 = self.stem(x)
        x1 = s["down1"](x0, cond)
        x2 = s["down2"](x1, cond)
        x3 = s["down3"](x2, cond)
        h = self.middle(x3)
        h = s["up1"](h, x2, cond)
        h = s["up2"](h, x1, cond)
        h = s["up3"](h, x0, cond)
        return self.head(h)
