"""What a dataset *is*: a validated description of the canvas, its labels and its evaluation grid.

A :class:`CanvasSpec` is plain configuration (every field comes from ``conf/data/*.yaml``); the
functions here turn it into training labels, evaluation labels and images. Dataset variants are
values of these fields (image kind, spreads, increments, periodic boundaries, an extended label
space, mixture parts, a held-out region, lambda), never copies of code.

Training labels are built in one direction: the label grid (extended by ``margin`` on every side)
-> lambda's nested subset -> minus the held-out region -> split into parts by visibility
(:mod:`diffcomp.data.regions`), each part subsampled by its own fraction and rendered with its own
image kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import Tensor

from diffcomp.config.errors import require
from diffcomp.data.labels import axis_values, integer_grid, label_grid, nested_subsample
from diffcomp.data.regions import (
    DIMENSIONS,
    PART_REGIONS,
    POSITIONED,
    Holdout,
    dimension_codes,
    make_holdout,
    region_mask,
)
from diffcomp.data.render import KINDS, render

MIN_SIZE = 8
# Keys of a ``data`` config that configure the datamodule, not the dataset.
NON_SPEC_OPTIONS = ("name", "batch_size", "eval_batch_size", "train_samples", "seed")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Part:
    """One component of a (mixture) dataset: the labels of one visibility class in one image kind."""

    kind: str = "bump"
    region: str = "2d"  # one of regions.PART_REGIONS
    fraction: float = 1.0


@dataclass(frozen=True)
class CanvasSpec:
    """The parameters of one dataset (sweepable by the names of their config fields).

    Attributes:
        kind: image kind of a single-part dataset: ``bump`` or ``sos`` (sum of stripes).
        size: canvas side N in pixels.
        sigma_x, sigma_y: spreads of the feature along x and y (paper's 4 sigma^2 convention).
        increment_x, increment_y: grid spacing d of the training labels.
        periodic: wrap distances around the canvas (torus data).
        fraction: lambda, the fraction of the label grid kept (nested across lambda).
        subsample_seed: seed of the lambda ranking (shared across sigma).
        margin: how far the label space extends beyond the frame on each side (6 at N=32: 44x44).
        parts: mixture components; empty means one part of ``kind`` over the whole grid.
        holdout: the held-out region, or None.
        visibility: how many sigmas from the frame a stripe still counts as visible.

    The training set is built once per spec and cached (:attr:`label_set`): validation, dry-run
    summaries and the datamodule's rendering all read the same one.
    """

    kind: str = "bump"
    size: int = 32
    sigma_x: float = 1.0
    sigma_y: float = 1.0
    increment_x: float = 0.1
    increment_y: float = 0.1
    periodic: bool = False
    fraction: float = 1.0
    subsample_seed: int = 0
    margin: float = 0.0
    parts: tuple[Part, ...] = ()
    holdout: Holdout | None = None
    visibility: float = 3.0
    field_names: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_options(
        cls,
        sigma: float = 1.0,
        sigma_x: float | None = None,
        sigma_y: float | None = None,
        increment: float = 0.1,
        increment_x: float | None = None,
        increment_y: float | None = None,
        parts: list[dict] | None = None,
        holdout: dict | None = None,
        margin: float | None = 0.0,
        **fields,
    ) -> CanvasSpec:
        """Build and validate a spec from config options, where ``sigma``/``increment`` set both axes
        unless the per-axis value is given; error messages then name the key the user actually set.

        ``margin=None`` sizes the extended label space from the feature, not the canvas: twice the
        visibility reach, ``2 * visibility * sigma`` (6 px at sigma=1: the paper's 44 x 44 around
        32 x 32). Half of it is the rim where a stripe still shows, the other half holds 1D and 0D
        labels, so every N has 1D stripes at every in-frame position.
        """
        names = {"fraction": "lambda", "subsample_seed": "seed"}
        values = {}
        for axis_attr, shared, shared_name, value in (
            ("sigma_x", sigma, "sigma", sigma_x),
            ("sigma_y", sigma, "sigma", sigma_y),
            ("increment_x", increment, "increment", increment_x),
            ("increment_y", increment, "increment", increment_y),
        ):
            values[axis_attr] = shared if value is None else value
            names[axis_attr] = f"data.{shared_name}" if value is None else f"data.{axis_attr}"
        size = fields.get("size", 32)
        require(isinstance(size, int) and size >= MIN_SIZE, "data.size", size, f"an integer >= {MIN_SIZE}")
        for attr in ("sigma_x", "sigma_y"):
            v = values[attr]
            require(_is_number(v) and v > 0 and math.isfinite(v), names[attr], v, "a finite number > 0")
        for attr in ("increment_x", "increment_y"):
            v = values[attr]
            require(_is_number(v) and 0 < v <= size, names[attr], v, f"a number in (0, {size}] (the canvas side)")
        visibility = fields.get("visibility", 3.0)
        require(_is_number(visibility) and visibility > 0, "data.visibility", visibility, "a number > 0 (in sigmas)")
        if margin is None:
            margin = 2 * visibility * max(values["sigma_x"], values["sigma_y"])
        require(
            _is_number(margin) and 0 <= margin <= 4 * size,
            "data.margin",
            margin,
            f"null or a number in [0, {4 * size}]",
        )
        built_parts = tuple(_make_part(i, p) for i, p in enumerate(parts or []))
        grid_x = axis_values(values["increment_x"], size, values["increment_x"])
        grid_y = axis_values(values["increment_y"], size, values["increment_y"])
        spec = cls(
            **values,
            **fields,
            margin=float(margin),
            parts=built_parts,
            holdout=make_holdout(holdout, size, grid_x, grid_y, values["sigma_x"], values["sigma_y"]),
            field_names=names,
        )
        spec.validate()
        return spec

    @classmethod
    def from_config(cls, data_config) -> CanvasSpec:
        """The spec of a ``data`` config node (its datamodule-only keys ignored): the one place a
        data config becomes a spec."""
        from omegaconf import OmegaConf

        options = (
            OmegaConf.to_container(data_config, resolve=True) if OmegaConf.is_config(data_config) else dict(data_config)
        )
        for key in ("_target_", *NON_SPEC_OPTIONS):
            options.pop(key, None)
        return cls.from_options(**options)

    def name_of(self, attr: str) -> str:
        """The user-facing config key of an attribute (``fraction`` is the top-level ``lambda``)."""
        return self.field_names.get(attr, f"data.{attr}")

    @property
    def effective_parts(self) -> tuple[Part, ...]:
        return self.parts or (Part(self.kind, "all", 1.0),)

    @property
    def eval_kind(self) -> str:
        """The image kind evaluation asks for: that of the part covering the 2D frame (the 2D SOS of
        a 2D+1D mixture, the 2D bumps of bumps+stripes), else ``kind``."""
        for part in self.effective_parts:
            if part.region in ("2d", "all"):
                return part.kind
        return self.kind

    def validate(self) -> None:
        """Reject values outside their meaning, naming the config key and the allowed range."""
        n = self.name_of
        require(self.kind in KINDS, n("kind"), self.kind, "one of " + ", ".join(KINDS))
        require(
            _is_number(self.fraction) and 0 < self.fraction <= 1, n("fraction"), self.fraction, "a fraction in (0, 1]"
        )
        require(
            not (self.periodic and self.margin > 0),
            "data.periodic",
            self.periodic,
            "false when data.margin > 0: a torus has no outside, so an extended label space has no meaning",
        )
        total = self.grid_size()
        kept = math.floor(self.fraction * total + 1e-9) if self.fraction < 1 else total
        require(kept >= 1, n("fraction"), self.fraction, f"large enough to keep at least one of {total} images")
        require(
            len(self.label_set.labels) >= 1,
            "data",
            "(variant)",
            "a combination of parts, holdout and fractions that leaves at least one training image",
        )

    def grid_size(self) -> int:
        return len(self.label_grid())

    def label_grid(self) -> Tensor:
        return label_grid(self.size, self.increment_x, self.increment_y, self.margin)

    @cached_property
    def label_set(self) -> LabelSet:
        """The training labels, built once (see :func:`training_set`)."""
        return training_set(self)

    def num_training_labels(self) -> int:
        """How many images the dataset holds."""
        return len(self.label_set.labels)

    def record(self) -> dict:
        """The dataset as a run's record keeps it: every field resolved per axis (``sigma`` and ``d``
        as x and y, lambda as ``fraction``, the held-out region's bounds and width) with the image
        counts, so that no reader re-derives a default or parses a config spelling."""
        return {
            "kind": self.kind,
            "size": self.size,
            "sigma_x": self.sigma_x,
            "sigma_y": self.sigma_y,
            "increment_x": self.increment_x,
            "increment_y": self.increment_y,
            "periodic": self.periodic,
            "fraction": self.fraction,
            "subsample_seed": self.subsample_seed,
            "margin": self.margin,
            "parts": [{"kind": p.kind, "region": p.region, "fraction": p.fraction} for p in self.effective_parts],
            "holdout": None if self.holdout is None else self.holdout.record(),
            "images": self.num_training_labels(),
            **self.summary(),
        }

    def summary(self) -> dict:
        """What a researcher checks before launching: images per visibility class, held-out share."""
        codes = self.label_set.dimension
        out = {name: int((codes == i).sum()) for i, name in enumerate(DIMENSIONS) if (codes == i).any()}
        if self.holdout is not None:
            inside = self.label_grid()
            inside = inside[dimension_codes(inside, self.size, self.sigma_x, self.sigma_y, self.visibility) == 0]
            out["held_out_2d_fraction"] = round(float(self.holdout.contains(inside).double().mean()), 4)
        return out


@dataclass
class LabelSet:
    """Training labels [M, 2] (float64, pixel coordinates), with each label's part index and
    visibility class (an index into :data:`regions.DIMENSIONS`)."""

    labels: Tensor
    part: Tensor
    dimension: Tensor


def _make_part(index: int, options: dict) -> Part:
    part = Part(**options)
    require(part.kind in KINDS, f"data.parts[{index}].kind", part.kind, "one of " + ", ".join(KINDS))
    require(
        part.region in PART_REGIONS, f"data.parts[{index}].region", part.region, "one of " + ", ".join(PART_REGIONS)
    )
    require(0 <= part.fraction <= 1, f"data.parts[{index}].fraction", part.fraction, "a fraction in [0, 1]")
    return part


def training_set(spec: CanvasSpec) -> LabelSet:
    """The training labels: the grid, lambda's nested subset, minus the held-out compositions, split
    into parts (use :attr:`CanvasSpec.label_set`, which caches this)."""
    grid = spec.label_grid()
    kept = nested_subsample(grid, spec.fraction, spec.subsample_seed) if spec.fraction < 1 else grid
    if spec.holdout is not None:
        codes = dimension_codes(kept, spec.size, spec.sigma_x, spec.sigma_y, spec.visibility)
        kept = kept[~spec.holdout.removes(kept, codes)]
    labels, parts, dimensions = [], [], []
    for index, part in enumerate(spec.effective_parts):
        chosen = kept[region_mask(part.region, kept, spec.size, spec.sigma_x, spec.sigma_y, spec.visibility)]
        if part.fraction < 1:
            chosen = (
                nested_subsample(chosen, part.fraction, spec.subsample_seed + 1 + index)
                if math.floor(part.fraction * len(chosen) + 1e-9)
                else chosen[:0]
            )
        labels.append(chosen)
        parts.append(torch.full((len(chosen),), index, dtype=torch.long))
        dimensions.append(dimension_codes(chosen, spec.size, spec.sigma_x, spec.sigma_y, spec.visibility))
    return LabelSet(torch.cat(labels), torch.cat(parts), torch.cat(dimensions))


def training_labels(spec: CanvasSpec) -> Tensor:
    """The training labels [M, 2] alone."""
    return spec.label_set.labels


def training_sample(label_set: LabelSet, count: int, seed: int, classes: tuple[str, ...] = POSITIONED) -> LabelSet:
    """A fixed sample of the training labels, for the in-distribution score of every evaluation.

    ``ceil(count / k)`` labels from each of the ``k`` visibility classes of ``classes`` the set holds
    (all of a smaller class), so a small part such as the 2D rim is scored as well as the bulk; drawn
    by one seeded permutation, so every evaluation (and a resumed run) scores the same labels.
    Returned in training order.
    """
    generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + 2)
    rank = torch.randperm(len(label_set.labels), generator=generator)
    present = [DIMENSIONS.index(c) for c in classes if (label_set.dimension == DIMENSIONS.index(c)).any()]
    if count <= 0 or not present:
        keep = torch.zeros(0, dtype=torch.long)
    else:
        share = math.ceil(count / len(present))
        keep = torch.cat([rank[label_set.dimension[rank] == code][:share] for code in present]).sort().values
    return LabelSet(label_set.labels[keep], label_set.part[keep], label_set.dimension[keep])


def evaluation_sections(spec: CanvasSpec, labels: Tensor) -> dict[str, Tensor]:
    """Boolean masks over evaluation ``labels``: in-distribution / held-out (and the cross's parts)."""
    return spec.holdout.sections(labels) if spec.holdout is not None else {}


def evaluation_labels(spec: CanvasSpec) -> Tensor:
    """The N x N integer labels of appendix A.3 (1 024 at N=32), all inside the frame."""
    return integer_grid(spec.size)


def render_images(spec: CanvasSpec, labels: Tensor, device=None, chunk: int = 16384, kind: str | None = None) -> Tensor:
    """Render ``labels`` with ``spec``'s parameters on ``device``: [M, N, N] float32 in [0, 255]."""
    out = []
    for part in labels.split(chunk):
        out.append(
            render(
                part.to(device=device, dtype=torch.float32),
                spec.size,
                spec.sigma_x,
                spec.sigma_y,
                kind=kind or spec.kind,
                periodic=spec.periodic,
            )
        )
    return torch.cat(out) if out else torch.empty(0, spec.size, spec.size, device=device)


def render_set(spec: CanvasSpec, label_set: LabelSet, device=None) -> Tensor:
    """Render every part of a label set with its own image kind, in label order."""
    images = torch.empty(len(label_set.labels), spec.size, spec.size, device=device)
    for index, part in enumerate(spec.effective_parts):
        mask = label_set.part == index
        if mask.any():
            images[mask.to(images.device)] = render_images(spec, label_set.labels[mask], device=device, kind=part.kind)
    return images
