"""Reading a feature's centre off a generated image, and the accuracy of appendix A.3.

Two read-outs:

* ``darkest`` (the paper's, the default for every image kind): the centre is the darkest pixel.
  When the image shows no feature or more than one, the paper falls back to the image's centroid;
  we do the same, with the centroid weighted by "ink" (``1 - v/255``) so a blank image reads as the
  canvas centre.
* ``profile`` (an option for sums of stripes and 1D stripes): ``mu_x`` is the darkest column of the
  column-mean profile and ``mu_y`` the darkest row of the row-mean profile, with no fallback.

*Features* are counted as the connected components (8-connectivity, ``scipy.ndimage.label``) of
pixels whose ink exceeds a depth that depends on the image kind: for a bump, half its full depth
(ink 0.5); for a sum of stripes the feature is the *crossing* (ink 1, each stripe alone is half
deep), so we count components above 0.75, half-way between a lone stripe and the crossing. A lone
stripe then counts as no feature (its read-out is the centroid, which gets the stripe's own axis
right and the other wrong, as the paper's 1D model shows), two parallel stripes crossed by a third
as two. On periodic (torus) canvases components that meet across opposite edges are merged, and
centroids and errors use wrapped distances. With ``profile``, stripes are counted instead: runs of
the column (row) profile rising more than 0.25 above its minimum, and an image shows "one feature"
when it has exactly one vertical and one horizontal stripe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

READOUTS = ("darkest", "profile")
# Ink above which a pixel belongs to a feature, per image kind (see the module docstring).
FEATURE_INK = {"bump": 0.5, "sos": 0.75}
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass
class Readout:
    """Per-image read-out: predicted centres [B, 2] (pixel coordinates) and feature counts [B]."""

    centres: Tensor
    feature_counts: Tensor


def count_features(images: np.ndarray, ink_threshold: float = 0.5, periodic: bool = False) -> np.ndarray:
    """Number of dark connected components per image; ``images`` is [B, N, N] in [0, 255]."""
    masks = (1.0 - images / 255.0) > ink_threshold
    counts = np.empty(len(masks), dtype=np.int64)
    for i, mask in enumerate(masks):
        labelled, n = ndimage.label(mask, structure=_EIGHT)
        if periodic and n > 1:
            n = _merge_across_edges(labelled, n)
        counts[i] = n
    return counts


def count_stripes(images: np.ndarray, ink_threshold: float = 0.5) -> np.ndarray:
    """Per image, the number of vertical and of horizontal stripes, [B, 2]."""
    ink = 1.0 - images / 255.0
    counts = np.empty((len(ink), 2), dtype=np.int64)
    for axis, reduce_over in ((0, 1), (1, 2)):  # column profile (vertical stripes), row profile
        profile = ink.mean(axis=reduce_over)
        raised = (profile - profile.min(axis=1, keepdims=True)) > ink_threshold / 2
        starts = raised & ~np.concatenate([np.zeros((len(raised), 1), bool), raised[:, :-1]], axis=1)
        counts[:, axis] = starts.sum(axis=1)
    return counts


def _stripe_feature_counts(stripes: np.ndarray) -> np.ndarray:
    both_one = (stripes == 1).all(axis=1)
    several = (stripes > 1).any(axis=1)
    return np.where(several, 2, np.where(both_one, 1, 0))


def _merge_across_edges(labelled: np.ndarray, n: int) -> int:
    """Count components once components touching across opposite canvas edges are identified."""
    parent = list(range(n + 1))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for edge_a, edge_b in ((labelled[0, :], labelled[-1, :]), (labelled[:, 0], labelled[:, -1])):
        for shift in (-1, 0, 1):  # 8-connectivity across the seam
            b = np.roll(edge_b, shift)
            for u, v in zip(edge_a, b):
                if u and v:
                    parent[find(u)] = find(v)
    return len({find(k) for k in range(1, n + 1)})


def _centroid(ink: Tensor, periodic: bool) -> Tensor:
    """Ink-weighted centroid [B, 2] in pixel coordinates (circular mean on a torus)."""
    b, n, _ = ink.shape
    coords = torch.arange(1, n + 1, dtype=ink.dtype, device=ink.device)
    wx = ink.sum(dim=1)  # [B, N] mass per column
    wy = ink.sum(dim=2)  # [B, N] mass per row
    if periodic:
        angle = 2 * torch.pi * (coords - 1) / n

        def circ(w: Tensor) -> Tensor:
            s, c = (w * angle.sin()).sum(1), (w * angle.cos()).sum(1)
            return torch.remainder(torch.atan2(s, c), 2 * torch.pi) * n / (2 * torch.pi) + 1

        return torch.stack([circ(wx), circ(wy)], dim=1)
    total = ink.sum(dim=(1, 2)).clamp_min(1e-12)
    cx = (wx * coords).sum(1) / total
    cy = (wy * coords).sum(1) / total
    blank = ink.sum(dim=(1, 2)) <= 1e-12
    centre = (n + 1) / 2
    cx = torch.where(blank, torch.full_like(cx, centre), cx)
    cy = torch.where(blank, torch.full_like(cy, centre), cy)
    return torch.stack([cx, cy], dim=1)


def read_centres(
    images: Tensor,
    method: str = "darkest",
    periodic: bool = False,
    kind: str = "bump",
) -> Readout:
    """Predicted feature centres of ``images`` ([B, N, N], values in [0, 255]), in pixel coordinates.

    ``kind`` is the image kind asked for (``bump`` or ``sos``): it sets what counts as one feature.
    """
    if method not in READOUTS:
        raise ValueError(f"unknown read-out {method!r}; allowed: {', '.join(READOUTS)}")
    if kind not in FEATURE_INK:
        raise ValueError(f"unknown image kind {kind!r}; allowed: {', '.join(FEATURE_INK)}")
    images = images.detach().float().cpu()
    b, n, _ = images.shape
    ink = (1.0 - images / 255.0).clamp(0.0, 1.0)
    if method == "darkest":
        counts = torch.from_numpy(count_features(images.numpy(), FEATURE_INK[kind], periodic))
        flat = ink.reshape(b, -1).argmax(dim=1)
        centres = torch.stack([flat % n + 1, flat // n + 1], dim=1).to(ink.dtype)
        fallback = counts != 1
        if fallback.any():
            centres[fallback] = _centroid(ink[fallback], periodic)
    else:
        counts = torch.from_numpy(_stripe_feature_counts(count_stripes(images.numpy())))
        cols = ink.mean(dim=1).argmax(dim=1) + 1
        rows = ink.mean(dim=2).argmax(dim=1) + 1
        centres = torch.stack([cols, rows], dim=1).to(ink.dtype)
    return Readout(centres, counts)


def axis_errors(predicted: Tensor, target: Tensor, period: float | None = None) -> Tensor:
    """Absolute per-axis errors [B, 2]; wrapped to the shorter way round when ``period`` is given."""
    delta = (predicted.double() - target.double().to(predicted.device)).abs()
    if period is not None:
        delta = torch.minimum(delta % period, period - delta % period)
    return delta


def accuracy(predicted: Tensor, target: Tensor, period: float | None = None) -> dict[str, float]:
    """Appendix A.3: the fraction with ``|dx| < 1 and |dy| < 1``, plus the x-only and y-only fractions."""
    if len(predicted) == 0:
        return {"acc": float("nan"), "acc_x": float("nan"), "acc_y": float("nan")}
    hit = axis_errors(predicted, target, period) < 1.0
    return {
        "acc": hit.all(dim=1).double().mean().item(),
        "acc_x": hit[:, 0].double().mean().item(),
        "acc_y": hit[:, 1].double().mean().item(),
    }
