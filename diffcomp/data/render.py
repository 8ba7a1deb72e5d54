"""Pure, batched image renderers for the papers' canvases (main paper, Sec. 2 and appendix A/C.1).

Every renderer takes a batch of labels ``(mu_x, mu_y)`` and returns grayscale images in
[0, 255]: a *dark* feature on a *bright* background. Pixel ``(1, 1)`` is the top-left corner and
``(N, N)`` the bottom-right; ``x`` runs along columns and ``y`` along rows, so the pixel at row
``r`` and column ``c`` (0-based) has coordinates ``(c + 1, r + 1)``. Labels may lie outside the
frame (the extended label space of appendix C.1): such features render partly or not at all, which
is how 1D stripes and 0D images arise.

There are no per-image Python loops: the whole batch is one broadcasted tensor expression, so
102 400 images render in one call on whatever device the labels live on.
"""

from __future__ import annotations

import torch
from torch import Tensor

KINDS = ("bump", "sos")


def pixel_coordinates(size: int, device=None, dtype=torch.float32) -> Tensor:
    """Label-space coordinates of the pixel centres along one axis: ``1 .. size``."""
    return torch.arange(1, size + 1, device=device, dtype=dtype)


def axis_profile(mu: Tensor, sigma: float, size: int, periodic: bool = False) -> Tensor:
    """``exp(-(p - mu)^2 / (4 sigma^2))`` for every label in ``mu`` (shape [B]) and pixel ``p``.

    The paper's exponent has ``4 sigma^2`` (not the usual ``2 sigma^2``): we keep it verbatim so
    that sigma means what it means in the papers. With ``periodic=True`` the distance wraps around
    the canvas (torus data), so a bump at ``mu = 0.5`` shows on both edges.
    """
    p = pixel_coordinates(size, device=mu.device, dtype=mu.dtype)
    delta = p[None, :] - mu[:, None]
    if periodic:
        delta = torch.remainder(delta + size / 2, size) - size / 2
    return torch.exp(-(delta**2) / (4.0 * sigma**2))


def render(
    labels: Tensor,
    size: int,
    sigma_x: float,
    sigma_y: float,
    kind: str = "bump",
    periodic: bool = False,
) -> Tensor:
    """Render ``labels`` (shape [B, 2], columns ``mu_x, mu_y``) to images of shape [B, size, size].

    * ``bump``: ``255 (1 - e^{-(x-mu_x)^2/4sx^2 - (y-mu_y)^2/4sy^2})`` (a product of the two profiles);
    * ``sos``:  ``255 (1 - (e^{-(x-mu_x)^2/4sx^2} + e^{-(y-mu_y)^2/4sy^2}) / 2)`` (sum of stripes).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown image kind {kind!r}; allowed: {', '.join(KINDS)}")
    if labels.ndim != 2 or labels.shape[1] != 2:
        raise ValueError(f"labels must have shape [B, 2], got {tuple(labels.shape)}")
    labels = labels.to(torch.float32) if not labels.is_floating_point() else labels
    gx = axis_profile(labels[:, 0], sigma_x, size, periodic)  # [B, N] over columns
    gy = axis_profile(labels[:, 1], sigma_y, size, periodic)  # [B, N] over rows
    if kind == "bump":
        ink = gy[:, :, None] * gx[:, None, :]
    else:
        ink = 0.5 * (gy[:, :, None] + gx[:, None, :])
    return 255.0 * (1.0 - ink)


def to_model_range(images: Tensor) -> Tensor:
    """Map [0, 255] pixel values to the diffusion model's [-1, 1] range, adding the channel axis."""
    return (images / 127.5 - 1.0).unsqueeze(1)


def from_model_range(x: Tensor) -> Tensor:
    """Inverse of :func:`to_model_range`: [B, 1, N, N] in [-1, 1] to [B, N, N] in [0, 255]."""
    return (x.squeeze(1).clamp(-1, 1) + 1.0) * 127.5


def image_grid(images: Tensor, columns: int = 8) -> Tensor:
    """Tile [B, N, N] images into one [rows*(N+1), columns*(N+1)] picture with 1-pixel grey gutters."""
    b, n, _ = images.shape
    rows = -(-b // columns)
    canvas = torch.full((rows * (n + 1), columns * (n + 1)), 128.0)
    for i in range(b):
        r, c = divmod(i, columns)
        canvas[r * (n + 1) : r * (n + 1) + n, c * (n + 1) : c * (n + 1) + n] = images[i].float().cpu()
    return canvas
