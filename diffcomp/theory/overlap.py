"""The overlap of two Gaussian bump images (main paper, appendix A.5 and Fig. 6b).

Why: the percolation picture of Sec. 3.3 needs a number saying how much two training images share.
The paper uses the L2 norm of the elementwise product of the *inverted* images (ink = 1 - v/255, so
the bump is bright and the background zero), normalised by the reference image:

    overlap(a, b) = ||a * b||_2 / norm(a).

The text says this is 1 for an image with itself and can exceed 1 for a slightly offset bump on the
pixel grid; the literal normaliser ``||a||_2`` gives neither (its self-overlap is about 0.71 for a
wide bump). So the default normaliser is ``||a * a||_2`` (``normalization="self"``), which makes the
self-overlap exactly 1 and lets pixelation push the overlap above 1; ``normalization="norm"`` keeps
the literal ``||a||_2`` for comparison. In the continuum the "self" overlap of two bumps a distance
``r`` apart is ``exp(-r^2 / (8 sigma^2))`` (the paper's profile has ``4 sigma^2`` in the exponent).

Images come from :func:`diffcomp.data.render.render` with float64 labels, so the tails survive
down to ~1e-16 (the [0, 255] round trip loses anything smaller; irrelevant at thresholds >= 1e-3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from diffcomp.data.render import render

NORMALIZATIONS = ("self", "norm")


def ink_images(labels: Tensor, size: int, sigma: float, periodic: bool = False) -> Tensor:
    """Inverted bump images ``1 - v/255`` (bump 1, background 0) for labels [M, 2]; float64 [M, N, N]."""
    images = render(torch.as_tensor(labels, dtype=torch.float64), size, sigma, sigma, "bump", periodic=periodic)
    return 1.0 - images / 255.0


def normaliser(images: Tensor, normalization: str = "self") -> Tensor:
    """Per-image denominator: ``||a * a||_2`` ("self", self-overlap 1) or ``||a||_2`` ("norm", literal)."""
    if normalization == "self":
        return (images**4).sum(dim=(-2, -1)).sqrt()
    if normalization == "norm":
        return (images**2).sum(dim=(-2, -1)).sqrt()
    raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")


def overlap(a: Tensor, b: Tensor, normalization: str = "self") -> Tensor:
    """``||a * b||_2 / norm(a)`` over the last two axes (leading axes broadcast); ``a`` is the reference."""
    return ((a * b) ** 2).sum(dim=(-2, -1)).sqrt() / normaliser(a, normalization)


def overlap_curve(
    increments: Sequence[float],
    sigma: float,
    size: int = 32,
    reference: float | None = None,
    normalization: str = "self",
) -> np.ndarray:
    """Overlap of a reference bump with its neighbour shifted by each increment ``d`` along x (Fig. 6b).

    The reference sits at ``(c, c)`` with ``c = reference`` or, by default, the canvas centre
    ``(N + 1) / 2`` - between two pixel centres for even N. That half-pixel phase is what produces
    the paper's "exception around increment 0.5": the neighbour at ``d = 0.5`` lands on a pixel
    centre and holds more ink than the reference itself, so the overlap exceeds 1 (hugely so for
    sigma = 0.1), and each later pixel crossing leaves a cusp. A pixel-centred reference
    (``reference = 16``) gives a smooth curve that never exceeds 1.
    """
    c = (size + 1) / 2 if reference is None else float(reference)
    shifts = torch.as_tensor(list(increments), dtype=torch.float64)
    neighbours = torch.stack([c + shifts, torch.full_like(shifts, c)], dim=1)
    a = ink_images(torch.tensor([[c, c]], dtype=torch.float64), size, sigma)
    b = ink_images(neighbours, size, sigma)
    return overlap(a, b, normalization).numpy()


def overlap_matrix(images: Tensor, normalization: str = "self") -> np.ndarray:
    """All-pairs overlaps [M, M] of ink images [M, N, N] with one matrix product, no pair loop.

    With ``P`` the squared images flattened to [M, N^2], ``||a_i * a_j||_2^2 = (P P^T)_ij``. The graph
    of percolation needs a symmetric relation, so each pair is normalised by the geometric mean
    ``sqrt(norm(a_i) norm(a_j))``; on a grid of pixel-centred bumps all interior images have the
    same norm and this equals the directed :func:`overlap`. By Cauchy-Schwarz every off-diagonal
    entry is at most 1 (with either normaliser), and the diagonal is 1 for "self".
    """
    squared = (images**2).reshape(len(images), -1)
    gram = (squared @ squared.T).clamp_min(0.0)
    norms = normaliser(images, normalization)
    return (gram.sqrt() / (norms[:, None] * norms[None, :]).sqrt()).numpy()
