"""The overlap of two Gaussian bump images (main paper, appendix A.5 and Fig. 6b).

Why: the percolation picture of Sec. 3.3 needs a number saying how much two training images share.
Appendix A.5 takes the *inverted* images (ink = 1 - v/255: bump bright, background zero) and prints,
in our text copy, ``[IVa * ||2/||aH2`` beside "the normalized L2-norm of their product": the PDF
extraction turned a square root into "IV", so the paper's formula is

    overlap(a, b) = ||sqrt(a * b)||_2 / ||a||_2          (normalization="sqrt", the default)

It is the one reading under which the text's two stated properties hold with the literal normaliser
``||a||_2``: an image's overlap with itself is exactly 1, and on the pixel grid a neighbour that lands
on a pixel centre can hold more ink than a half-pixel reference, so the overlap "temporarily goes
beyond 1". In the continuum two bumps a distance ``r`` apart (the paper's profile has ``4 sigma^2``
in the exponent) overlap ``exp(-r^2 / (16 sigma^2))``.

Two other readings stay available for comparison, named for what they compute: ``"self"``,
``||a * b||_2 / ||a * a||_2`` (this project's earlier default: self-overlap 1 as well, but it is the
*square* of the paper's overlap in the continuum, ``exp(-r^2 / (8 sigma^2))``, so a threshold means a
different distance), and ``"norm"``, ``||a * b||_2 / ||a||_2`` (self-overlap about 0.71 for a wide
bump: neither property holds).

Images come from :func:`diffcomp.data.render.render` with float64 labels, so the tails survive
down to ~1e-16 (the [0, 255] round trip loses anything smaller; irrelevant at thresholds >= 1e-3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from diffcomp.data.render import render

NORMALIZATIONS = ("sqrt", "self", "norm")
FORMULAS = {
    "sqrt": "‖√(a∗b)‖₂ / ‖a‖₂",
    "self": "‖a∗b‖₂ / ‖a∗a‖₂",
    "norm": "‖a∗b‖₂ / ‖a‖₂",
}


def ink_images(labels: Tensor, size: int, sigma: float, periodic: bool = False) -> Tensor:
    """Inverted bump images ``1 - v/255`` (bump 1, background 0) for labels [M, 2]; float64 [M, N, N]."""
    images = render(torch.as_tensor(labels, dtype=torch.float64), size, sigma, sigma, "bump", periodic=periodic)
    return 1.0 - images / 255.0


def _check(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")


def _power(normalization: str) -> int:
    """The power of the images whose pixel sums enter the formula: ``a * b`` for "sqrt", ``(a * b)^2`` else."""
    return 1 if normalization == "sqrt" else 2


def normaliser(images: Tensor, normalization: str = "sqrt") -> Tensor:
    """Per-image denominator: ``||a||_2`` ("sqrt", "norm") or ``||a * a||_2`` ("self")."""
    _check(normalization)
    if normalization == "self":
        return (images**4).sum(dim=(-2, -1)).sqrt()
    return (images**2).sum(dim=(-2, -1)).sqrt()


def overlap(a: Tensor, b: Tensor, normalization: str = "sqrt") -> Tensor:
    """The overlap of ``b`` with the reference ``a`` over the last two axes (leading axes broadcast)."""
    numerator = ((a * b).clamp_min(0.0) ** _power(normalization)).sum(dim=(-2, -1)).sqrt()
    return numerator / normaliser(a, normalization)


def overlap_curve(
    increments: Sequence[float],
    sigma: float,
    size: int = 32,
    reference: float | None = None,
    normalization: str = "sqrt",
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


def overlap_matrix(images: Tensor, normalization: str = "sqrt") -> np.ndarray:
    """All-pairs overlaps [M, M] of ink images [M, N, N] with one matrix product, no pair loop.

    With ``P`` the images raised to the formula's power and flattened to [M, N^2], the numerator's
    squared norm is ``(P P^T)_ij``. The graph of percolation needs a symmetric relation, so each pair
    is normalised by the geometric mean ``sqrt(norm(a_i) norm(a_j))``; on a grid of pixel-centred
    bumps all interior images have the same norm and this equals the directed :func:`overlap`. By
    Cauchy-Schwarz every off-diagonal entry is at most 1 for every formula, and the diagonal is 1 for
    "sqrt" and "self".
    """
    powered = (images.clamp_min(0.0) ** _power(normalization)).reshape(len(images), -1)
    gram = (powered @ powered.T).clamp_min(0.0)
    norms = normaliser(images, normalization)
    return (gram.sqrt() / (norms[:, None] * norms[None, :]).sqrt()).numpy()
