"""What a dataset *is*: a validated description of the canvas, its labels and its evaluation grid.

A :class:`CanvasSpec` is plain configuration (every field comes from ``conf/data/*.yaml``); the
functions here turn it into training labels, evaluation labels and images. Dataset variants are
values of these fields, never copies of code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from diffcomp.config.errors import require
from diffcomp.data.labels import integer_grid, label_grid, nested_subsample
from diffcomp.data.render import KINDS, render

MIN_SIZE = 8


@dataclass(frozen=True)
class CanvasSpec:
    """The parameters of one dataset (sweepable by the names of their config fields).

    Attributes:
        kind: ``bump`` (2D Gaussian bump) or ``sos`` (sum of a vertical and a horizontal stripe).
        size: canvas side N in pixels.
        sigma_x, sigma_y: spreads of the feature along x and y (paper's 4 sigma^2 convention).
        increment_x, increment_y: grid spacing d of the training labels.
        periodic: wrap distances around the canvas (torus data).
        fraction: lambda, the fraction of the label grid kept (nested across lambda).
        subsample_seed: seed of the lambda ranking (shared across sigma).
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
        **fields,
    ) -> "CanvasSpec":
        """Build a spec from config options where ``sigma``/``increment`` set both axes unless the
        per-axis value is given; error messages then name the key the user actually set."""
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
        return cls(**values, **fields, field_names=names)

    def name_of(self, attr: str) -> str:
        """The user-facing config key of an attribute (``fraction`` is the top-level ``lambda``)."""
        return self.field_names.get(attr, f"data.{attr}")

    def validate(self) -> None:
        """Reject values outside their meaning, naming the config key and the allowed range."""
        n = self.name_of
        require(self.kind in KINDS, n("kind"), self.kind, "one of " + ", ".join(KINDS))
        require(isinstance(self.size, int) and self.size >= MIN_SIZE, n("size"), self.size, f"an integer >= {MIN_SIZE}")
        for attr in ("sigma_x", "sigma_y"):
            v = getattr(self, attr)
            require(v > 0 and math.isfinite(v), n(attr), v, "a finite number > 0")
        for attr in ("increment_x", "increment_y"):
            v = getattr(self, attr)
            require(0 < v <= self.size, n(attr), v, f"a number in (0, {self.size}] (the canvas side)")
        require(0 < self.fraction <= 1, n("fraction"), self.fraction, "a fraction in (0, 1]")
        kept = self.num_training_labels()
        require(kept >= 1, n("fraction"), self.fraction, f"large enough to keep at least one of {self.grid_size()} images")

    def grid_size(self) -> int:
        nx = math.floor(self.size / self.increment_x + 1e-9)
        ny = math.floor(self.size / self.increment_y + 1e-9)
        return nx * ny

    def num_training_labels(self) -> int:
        """How many images the dataset holds, computed without building it (used by dry runs)."""
        if self.fraction == 1.0:
            return self.grid_size()
        return math.floor(self.fraction * self.grid_size() + 1e-9)


def training_labels(spec: CanvasSpec) -> Tensor:
    """The training labels [M, 2] (float64, pixel coordinates): the grid, then lambda-subsampled."""
    grid = label_grid(spec.size, spec.increment_x, spec.increment_y)
    return nested_subsample(grid, spec.fraction, spec.subsample_seed)


def evaluation_labels(spec: CanvasSpec) -> Tensor:
    """The N x N integer labels of appendix A.3 (1 024 at N=32)."""
    return integer_grid(spec.size)


def render_images(spec: CanvasSpec, labels: Tensor, device=None, chunk: int = 16384) -> Tensor:
    """Render ``labels`` with ``spec``'s parameters on ``device``: [M, N, N] float32 in [0, 255]."""
    out = []
    for part in labels.split(chunk):
        out.append(
            render(
                part.to(device=device, dtype=torch.float32),
                spec.size,
                spec.sigma_x,
                spec.sigma_y,
                kind=spec.kind,
                periodic=spec.periodic,
            )
        )
    return torch.cat(out) if out else torch.empty(0, spec.size, spec.size, device=device)
