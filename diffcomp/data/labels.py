"""Label grids and the lambda subsampling of the papers (Sec. 2, 3.3 and appendix D.2).

A dataset enumerates the feature centres ``mu = (k + 1) * d`` for ``k = 0 .. floor(N / d) - 1``
along each axis, so the grid ends on the last pixel ``N`` and contains every integer pixel
``1..N`` whenever ``1/d`` is an integer: at N=32 and d=0.1 that is 320 x 320 = 102 400 labels,
at d=1 the 1 024 integer labels used for evaluation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def axis_values(start: float, stop: float, step: float) -> Tensor:
    """``start + k * step`` for every ``k >= 0`` with the value ``<= stop`` (float64, exact counts).

    Counting in integers (rather than accumulating floats) keeps 0.1-steps from drifting.
    """
    count = math.floor((stop - start) / step + 1e-9) + 1
    return start + step * torch.arange(count, dtype=torch.float64)


def label_grid(size: int, dx: float, dy: float, margin: float = 0.0) -> Tensor:
    """All grid labels ``(mu_x, mu_y)`` with ``mu = k d - margin`` in ``(-margin, N + margin]``, [M, 2].

    ``margin=0`` is the canvas; a positive margin is the extended label space of appendix C.1
    (margin 6 around N=32 gives 44 x 44 labels at d=1). Rows are ordered with ``mu_x`` fastest.
    """
    xs = axis_values(dx - margin, size + margin, dx)
    ys = axis_values(dy - margin, size + margin, dy)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def integer_grid(size: int) -> Tensor:
    """The N x N integer labels 1..N per axis: the evaluation grid of appendix A.3 (1 024 at N=32)."""
    return label_grid(size, 1.0, 1.0)


def nested_subsample(labels: Tensor, fraction: float, seed: int) -> Tensor:
    """Keep ``floor(fraction * M)`` labels, chosen so that subsets are *nested* and *shared*.

    The kept labels are a prefix of one seeded random ranking of the grid, so the lambda=0.2
    set contains the lambda=0.1 set, and the ranking depends only on the seed and the grid (not
    on sigma), so models at different sigma see the same grid points (appendix D.2).
    Returns the kept labels in their original grid order.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    count = math.floor(fraction * len(labels) + 1e-9)
    if fraction == 1.0:
        return labels
    if count == 0:
        raise ValueError(f"fraction {fraction} of {len(labels)} labels keeps no label")
    generator = torch.Generator().manual_seed(seed)
    rank = torch.randperm(len(labels), generator=generator)
    keep = rank[:count].sort().values
    return labels[keep]
