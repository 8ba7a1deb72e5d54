"""Regions of the label plane: what a feature shows on the canvas, and which labels are held out.

*Visibility* (appendix C.1). Labels may live in an extended label space around the N x N frame
(44 x 44 around 32 x 32 in the paper), so a sum of stripes can show both stripes (2D), one (1D) or
none (0D). Per axis, a centre is *inside* when ``0 < mu <= N`` (the paper's label grid
``mu = k d, k = 1 .. N/d``: 320 values per axis at d=0.1) and *visible* while it lies within
``visibility * sigma`` of the frame of pixel centres ``[1, N]`` (3 sigma by default: the stripe's profile there is
``e^{-9/4} = 0.105`` of its depth). Then

* ``2d``:  both centres inside the frame;
* ``rim``: both stripes visible but not both centres inside (the "2D rim" where the crossing is
  partly visible, Fig. 10d);
* ``1d``:  exactly one stripe visible;  ``0d``: none.

*Held-out regions* (Figs. 4, 5, 11, 12) are boxes of the ``(mu_x, mu_y)`` plane, inclusive on their
boundaries. The cross is at least as wide as the stripe it hides (:func:`stripe_width`) at every N:
the paper cuts [13, 19] at N=32 because 6 px is "roughly the width of the Gaussian stripes of
sigma = 1.0"; a cut scaled down with N while sigma stays would hide less than a stripe, and a model
could then interpolate across it from the stripes on either side. They remove *compositions*: by default only labels of the 2D and rim classes (both
stripes visible) are held out, while 1D and 0D labels stay at every position, because the paper's
1D stripes span "the entire range of x and y without any held-out regions" (Sec. 3.2, Fig. 4b).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from diffcomp.config.errors import require

DIMENSIONS = ("2d", "rim", "1d", "0d")
# Part regions: a visibility class, or the 1D class narrowed to one stripe orientation.
PART_REGIONS = (*DIMENSIONS, "1d_vertical", "1d_horizontal", "all")
HOLDOUTS = ("cross", "band", "square")
SQUARE_PLACES = ("interior", "exterior")
# What a held-out region removes by default: the classes that show a composition of both stripes.
COMPOSED = ("2d", "rim")
# The classes with a position to read off the image: at least one stripe visible (0D images are blank).
POSITIONED = ("2d", "rim", "1d")
# A stripe's width in sigmas: its profile exp(-(x - mu)^2 / 4 sigma^2) is above e^{-9/4} = 0.105 of
# its depth within 3 sigma of mu, so 6 sigma wide: 6 px at sigma = 1, the paper's cut (Sec. 3.2).
STRIPE_WIDTH_SIGMAS = 6.0
_EPS = 1e-9


def stripe_width(sigma: float) -> float:
    """The width of a Gaussian stripe of spread ``sigma``, the narrowest cross that hides one."""
    return STRIPE_WIDTH_SIGMAS * sigma


def _axis_state(mu: Tensor, sigma: float, size: int, visibility: float) -> tuple[Tensor, Tensor]:
    """(inside the frame, visible) for centres ``mu`` along one axis."""
    distance = torch.clamp(1 - mu, min=0) + torch.clamp(mu - size, min=0)
    return (mu > 0) & (mu <= size), distance <= visibility * sigma


def visible_axes(labels: Tensor, size: int, sigma_x: float, sigma_y: float, visibility: float) -> Tensor:
    """[M, 2] booleans: which of each label's stripes (at ``mu_x``, at ``mu_y``) shows in the frame."""
    _, visible_x = _axis_state(labels[:, 0], sigma_x, size, visibility)
    _, visible_y = _axis_state(labels[:, 1], sigma_y, size, visibility)
    return torch.stack([visible_x, visible_y], dim=1)


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


def _within(values: Tensor, bounds: tuple[float, float]) -> Tensor:
    return (values >= bounds[0] - _EPS) & (values <= bounds[1] + _EPS)


@dataclass(frozen=True)
class Holdout:
    """A held-out region of the label plane, as inclusive bounds.

    * ``cross``:  ``mu_x`` in ``x_range`` or ``mu_y`` in ``y_range`` (Fig. 4: [13, 19] at N=32);
    * ``band``:   ``mu_x`` in ``x_range`` (a vertical band, Fig. 11);
    * ``square``: ``mu_x`` in ``x_range`` and ``mu_y`` in ``y_range``: a block of grid values (Fig. 12
      interior/exterior: ``round(W / d)`` values per axis; Fig. 5: the centre block holding the
      share ``area`` of the 2D grid).

    ``parts``: the visibility classes (:data:`DIMENSIONS`) whose labels the region removes.
    """

    type: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    parts: tuple[str, ...] = COMPOSED
    width: float | None = field(default=None, compare=False)  # the W it was made from (defaults filled in)

    def record(self) -> dict:
        """The region as a run's record keeps it: resolved bounds and width, so readers need no defaults."""
        return {
            "type": self.type,
            "x_range": list(self.x_range),
            "y_range": list(self.y_range),
            "parts": list(self.parts),
            "width": self.width,
        }

    def contains(self, labels: Tensor) -> Tensor:
        in_x, in_y = _within(labels[:, 0], self.x_range), _within(labels[:, 1], self.y_range)
        if self.type == "cross":
            return in_x | in_y
        if self.type == "band":
            return in_x
        return in_x & in_y

    def removes(self, labels: Tensor, codes: Tensor) -> Tensor:
        """Which training labels the region removes: inside it and of a held-out visibility class."""
        held_class = torch.zeros(len(labels), dtype=torch.bool)
        for name in self.parts:
            held_class |= codes == DIMENSIONS.index(name)
        return self.contains(labels) & held_class

    def sections(self, labels: Tensor) -> dict[str, Tensor]:
        """Named evaluation sections: ``id``, ``ood`` and, for the cross, its three parts (Fig. 4c-f)."""
        held = self.contains(labels)
        out = {"id": ~held, "ood": held}
        if self.type == "cross":
            in_x, in_y = _within(labels[:, 0], self.x_range), _within(labels[:, 1], self.y_range)
            out["vertical"] = in_x & ~in_y
            out["horizontal"] = in_y & ~in_x
            out["intersection"] = in_x & in_y
        return out


def area_block(n: int, m: int, area: float) -> tuple[int, int]:
    """Block sizes ``(k_x, k_y)`` of an ``n x m`` label grid whose share ``k_x k_y / (n m)`` is nearest
    to ``area``, as a square (``k_x = k_y``) when the grid is square.

    On a grid a centred square holds ``k x k`` labels, so only the shares ``k^2 / n^2`` exist: at
    N=32, d=1 those around 20 % are 196/1024 = 19.1 % and 225/1024 = 22.0 %. We take the nearest one
    (19.1 % there; 143^2 / 320^2 = 19.97 % at d=0.1).
    """
    root = math.sqrt(area)
    choices_x = {max(1, math.floor(root * n)), min(n, math.ceil(root * n))}
    choices_y = {max(1, math.floor(root * m)), min(m, math.ceil(root * m))}
    pairs = [(k, k) for k in choices_x] if n == m else [(kx, ky) for kx in choices_x for ky in choices_y]
    return min(pairs, key=lambda pair: (abs(pair[0] * pair[1] / (n * m) - area), pair))


def _block(values: Tensor, k: int, centre: float | None = None) -> tuple[float, float]:
    """Bounds of ``k`` consecutive grid values, half a step beyond the outermost ones: the block whose
    middle is nearest to ``centre`` (the grid's own middle when None), or the last block with
    ``centre=inf``."""
    n = len(values)
    k = max(1, min(k, n))
    step = float(values[1] - values[0]) if n > 1 else 1.0
    if centre == math.inf:
        start = n - k
    elif centre is None:
        start = (n - k) // 2
    else:
        middles = (values[: n - k + 1] + values[k - 1 :]) / 2
        start = int(torch.argmin((middles - centre).abs()))
    return float(values[start]) - step / 2, float(values[start + k - 1]) + step / 2


def make_holdout(
    options: dict | None,
    size: int,
    grid_x: Tensor,
    grid_y: Tensor,
    sigma_x: float = 1.0,
    sigma_y: float = 1.0,
) -> Holdout | None:
    """Validate ``data.holdout`` options and fill the defaults that depend on N and sigma.

    ``grid_x``/``grid_y`` are the in-frame values of the training grid per axis (needed only by
    ``area``, whose square is a block of grid values). ``sigma_x``/``sigma_y`` set the cross's
    default and least width per axis (:func:`stripe_width`).
    """
    if not options or options.get("type") in (None, "none"):
        return None
    kind = options["type"]
    require(kind in HOLDOUTS, "data.holdout.type", kind, "null or one of " + ", ".join(HOLDOUTS))
    parts = tuple(options.get("parts") or COMPOSED)
    for name in parts:
        require(name in DIMENSIONS, "data.holdout.parts", list(parts), "a list of " + ", ".join(DIMENSIONS))
    center = options.get("center")
    center = size / 2 if center is None else center
    require(1 <= center <= size, "data.holdout.center", center, f"a position in [1, {size}] (inside the canvas)")
    place = options.get("place", "interior") or "interior"
    require(place in SQUARE_PLACES, "data.holdout.place", place, "one of " + ", ".join(SQUARE_PLACES))
    area = options.get("area")
    if area is not None:
        require(kind == "square", "data.holdout.area", area, "null unless data.holdout.type=square")
        require(0 < area < 1, "data.holdout.area", area, "a fraction in (0, 1)")
        require(
            place == "interior",
            "data.holdout.place",
            place,
            "interior with data.holdout.area (the centre square of Fig. 5)",
        )
        kx, ky = area_block(len(grid_x), len(grid_y), area)
        return Holdout(kind, _block(grid_x, kx), _block(grid_y, ky), parts)
    width = options.get("width")
    if width is not None:
        require(0 < width < size, "data.holdout.width", width, f"a width in (0, {size}) (narrower than the canvas)")
    if kind == "cross":
        return _cross(width, size, center, (sigma_x, sigma_y), parts)
    if width is None:
        width = 6 * size / 32  # band and square: 6 px at N=32, scaled with the canvas (their widths are swept)
    if kind == "square":
        # A W x W square is a block of round(W / d) grid values per axis (at least one), centred on
        # `center` (interior) or the last ones of the frame (exterior, Fig. 12b): both places then
        # hold out the same number of compositions.
        where = math.inf if place == "exterior" else center
        bounds = [
            _block(grid, max(1, round(width / float(grid[1] - grid[0]))) if len(grid) > 1 else 1, where)
            for grid in (grid_x, grid_y)
        ]
        return Holdout(kind, bounds[0], bounds[1], parts, width=float(width))
    bounds = _centred(width, size, center)
    return Holdout(kind, bounds, bounds, parts, width=float(width))


def _centred(width: float, size: int, center: float) -> tuple[float, float]:
    lo, hi = center - width / 2, center + width / 2
    require(
        lo >= 1 - _EPS and hi <= size + _EPS,
        "data.holdout.width",
        width,
        f"a width whose region [{lo:g}, {hi:g}] stays inside [1, {size}] around center {center:g}",
    )
    return lo, hi


def _cross(width: float | None, size: int, center: float, sigmas: tuple[float, float], parts) -> Holdout:
    """The cross of Fig. 4: per axis the stripe width of that axis's sigma by default (6 px, [13, 19]
    at N=32, sigma=1, at every N), and never narrower than the widest stripe."""
    least = stripe_width(max(sigmas))
    if width is not None:
        require(
            width >= least - _EPS,
            "data.holdout.width",
            width,
            f"null or a width >= {least:g} for the cross: the stripe width 6 sigma (sigma={max(sigmas):g}); "
            "a narrower cut hides less than one stripe (Sec. 3.2)",
        )
    widths = [width if width is not None else stripe_width(s) for s in sigmas]
    x_range, y_range = _centred(widths[0], size, center), _centred(widths[1], size, center)
    return Holdout("cross", x_range, y_range, parts, width=float(widths[0]) if widths[0] == widths[1] else None)
