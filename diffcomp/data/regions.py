"""Regions of the label plane: what a feature shows on the canvas, and which labels are held out.

*Visibility* (appendix C.1). Labels may live in an extended label space around the N x N frame
(44 x 44 around 32 x 32 in the paper), so a sum of stripes can show both stripes (2D), one (1D) or
none (0D). Per axis, a centre is *inside* when ``1 <= mu <= N`` and *visible* while it lies within
``visibility * sigma`` of the frame (3 sigma by default: the stripe's profile there is
``e^{-9/4} = 0.105`` of its depth). Then

* ``2d``:  both centres inside the frame;
* ``rim``: both stripes visible but not both centres inside (the "2D rim" where the crossing is
  partly visible, Fig. 10d);
* ``1d``:  exactly one stripe visible;  ``0d``: none.

*Held-out regions* (Figs. 4, 5, 11, 12) are predicates on the centre ``(mu_x, mu_y)``; every
boundary is inclusive, so a label exactly on an edge is held out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from diffcomp.config.errors import require

DIMENSIONS = ("2d", "rim", "1d", "0d")
# Part regions: a visibility class, or the 1D class narrowed to one stripe orientation.
PART_REGIONS = (*DIMENSIONS, "1d_vertical", "1d_horizontal", "all")
HOLDOUTS = ("cross", "band", "square")
SQUARE_PLACES = ("interior", "exterior")


def _axis_state(mu: Tensor, sigma: float, size: int, visibility: float) -> tuple[Tensor, Tensor]:
    """(inside the frame, visible) for centres ``mu`` along one axis."""
    distance = torch.clamp(1 - mu, min=0) + torch.clamp(mu - size, min=0)
    return distance == 0, distance <= visibility * sigma


def region_mask(region: str, labels: Tensor, size: int, sigma_x: float, sigma_y: float, visibility: float) -> Tensor:
    """Which ``labels`` belong to a part region (see :data:`PART_REGIONS`). A *vertical* stripe is
    the one at ``mu_x``: ``1d_vertical`` keeps the 1D labels whose x-stripe is the visible one."""
    if region == "all":
        return torch.ones(len(labels), dtype=torch.bool)
    codes = dimension_codes(labels, size, sigma_x, sigma_y, visibility)
    if region in DIMENSIONS:
        return codes == DIMENSIONS.index(region)
    one_d = codes == DIMENSIONS.index("1d")
    _, visible_x = _axis_state(labels[:, 0], sigma_x, size, visibility)
    return one_d & (visible_x if region == "1d_vertical" else ~visible_x)


def dimension_codes(labels: Tensor, size: int, sigma_x: float, sigma_y: float, visibility: float) -> Tensor:
    """Index into :data:`DIMENSIONS` for every label [M, 2]."""
    inside_x, visible_x = _axis_state(labels[:, 0], sigma_x, size, visibility)
    inside_y, visible_y = _axis_state(labels[:, 1], sigma_y, size, visibility)
    code = torch.full((len(labels),), DIMENSIONS.index("0d"), dtype=torch.long)
    code[visible_x ^ visible_y] = DIMENSIONS.index("1d")
    code[visible_x & visible_y] = DIMENSIONS.index("rim")
    code[inside_x & inside_y] = DIMENSIONS.index("2d")
    return code


@dataclass(frozen=True)
class Holdout:
    """A held-out region of the label plane.

    * ``cross``:  ``mu_x`` or ``mu_y`` within ``width/2`` of ``center`` (Fig. 4: [13, 19] at N=32);
    * ``band``:   ``mu_x`` within ``width/2`` of ``center`` (a vertical band, Fig. 11);
    * ``square``: a ``width`` x ``width`` square, ``interior`` (centred) or ``exterior`` (in the
      bottom-right corner of the frame) (Fig. 12); with ``area`` instead of ``width`` the side is
      ``sqrt(area) * N``, so ``area=0.2`` holds out the centre 20 % of the 2D data (Fig. 5).
    """

    type: str
    width: float
    center: float
    place: str = "interior"
    size: int = 32

    def contains(self, labels: Tensor) -> Tensor:
        x, y = labels[:, 0], labels[:, 1]
        half = self.width / 2
        eps = 1e-9
        if self.type == "cross":
            return ((x - self.center).abs() <= half + eps) | ((y - self.center).abs() <= half + eps)
        if self.type == "band":
            return (x - self.center).abs() <= half + eps
        if self.place == "interior":
            return ((x - self.center).abs() <= half + eps) & ((y - self.center).abs() <= half + eps)
        lo = self.size - self.width
        return (x >= lo - eps) & (y >= lo - eps)

    def sections(self, labels: Tensor) -> dict[str, Tensor]:
        """Named evaluation sections: ``id``, ``ood`` and, for the cross, its three parts (Fig. 4c-f)."""
        held = self.contains(labels)
        out = {"id": ~held, "ood": held}
        if self.type == "cross":
            half = self.width / 2 + 1e-9
            in_x = (labels[:, 0] - self.center).abs() <= half
            in_y = (labels[:, 1] - self.center).abs() <= half
            out["vertical"] = in_x & ~in_y
            out["horizontal"] = in_y & ~in_x
            out["intersection"] = in_x & in_y
        return out


def make_holdout(options: dict | None, size: int) -> Holdout | None:
    """Validate ``data.holdout`` options and fill the defaults that scale with N."""
    if not options or options.get("type") in (None, "none"):
        return None
    kind = options["type"]
    require(kind in HOLDOUTS, "data.holdout.type", kind, "null or one of " + ", ".join(HOLDOUTS))
    center = options.get("center")
    center = size / 2 if center is None else center
    require(1 <= center <= size, "data.holdout.center", center, f"a position in [1, {size}] (inside the canvas)")
    place = options.get("place", "interior") or "interior"
    require(place in SQUARE_PLACES, "data.holdout.place", place, "one of " + ", ".join(SQUARE_PLACES))
    area = options.get("area")
    width = options.get("width")
    if kind == "square" and area is not None:
        require(0 < area < 1, "data.holdout.area", area, "a fraction in (0, 1)")
        width = math.sqrt(area) * size
    if width is None:
        width = 6 * size / 32  # the paper's [13, 19] cross at N=32, scaled with the canvas
    require(0 < width < size, "data.holdout.width", width, f"a width in (0, {size}) (narrower than the canvas)")
    if kind != "square" or place == "interior":
        lo, hi = center - width / 2, center + width / 2
        require(lo >= 1 - 1e-9 and hi <= size + 1e-9, "data.holdout.width", width, f"a width whose region [{lo:g}, {hi:g}] stays inside [1, {size}] around center {center:g}")
    return Holdout(kind, float(width), float(center), place, size)
