"""The score of a model on its own *training* distribution (``eval/train/*``).

Why: a held-out verdict ("composes", "cannot interpolate") means something only for a model that
learned its training images; one that never did fails the held-out region for another reason. So
every evaluation also samples the fixed sample of training labels of
:func:`diffcomp.data.canvas.training_sample` and reads each image the way its kind of training image
defines a position:

* **2D** labels (both centres in the frame, bump or sum of stripes): the evaluation's read-out, both
  axes jointly, as ``eval/acc`` does on the integer grid;
* **rim and 1D** labels (stripes at or beyond the frame's edge): the stripe-profile read-out on each
  *visible* stripe's axis (the darkest column / row of the mean profile), against the centre clamped
  into the frame ``[1, N]``: a stripe centred beyond the frame is darkest on the edge pixel. A label
  is right when every visible stripe is; an invisible stripe defines no position. A bump needs both
  axes visible to show, so 1D bump labels (near-blank images) are not scored, nor are 0D images.

``eval/train/<class>/acc`` and ``/n`` per visibility class, ``eval/train/acc`` over the sample, and
``eval/train_score``: the lowest class accuracy, i.e. how well the model learned the kind of training
image it learned worst (the rim model's rim, the 2D+1D model's stripes).
"""

from __future__ import annotations

import torch
from torch import Tensor

from diffcomp.data.canvas import CanvasSpec, LabelSet
from diffcomp.data.regions import DIMENSIONS, POSITIONED, visible_axes
from diffcomp.eval.readout import axis_errors, read_centres


def scored_labels(sample: LabelSet, spec: CanvasSpec) -> Tensor:
    """Which sampled labels have a position to read (see the module docstring)."""
    kinds = [spec.effective_parts[int(p)].kind for p in sample.part]
    positioned = torch.zeros(len(sample.labels), dtype=torch.bool)
    for name in POSITIONED:
        positioned |= sample.dimension == DIMENSIONS.index(name)
    faint_bump = torch.tensor([k == "bump" for k in kinds], dtype=torch.bool) & (
        sample.dimension == DIMENSIONS.index("1d")
    )
    return positioned & ~faint_bump


def training_correct(images: Tensor, sample: LabelSet, spec: CanvasSpec, readout: str = "darkest") -> Tensor:
    """Per sampled label, whether its image [M, N, N] (in [0, 255]) shows it (False where unscored)."""
    labels = sample.labels.double()
    correct = torch.zeros(len(labels), dtype=torch.bool)
    scored = scored_labels(sample, spec)
    two_d = scored & (sample.dimension == DIMENSIONS.index("2d"))
    period = float(spec.size) if spec.periodic else None
    for index, part in enumerate(spec.effective_parts):
        mask = two_d & (sample.part == index)
        if mask.any():
            centres = read_centres(images[mask], readout, periodic=spec.periodic, kind=part.kind).centres
            correct[mask] = (axis_errors(centres, labels[mask], period) < 1).all(dim=1)
    edge = scored & ~two_d
    if edge.any():
        centres = read_centres(images[edge], "profile", kind="sos").centres
        visible = visible_axes(labels[edge], spec.size, spec.sigma_x, spec.sigma_y, spec.visibility)
        hit = axis_errors(centres, labels[edge].clamp(1, spec.size)) < 1
        correct[edge] = (hit | ~visible).all(dim=1)
    return correct


def training_scores(images: Tensor, sample: LabelSet, spec: CanvasSpec, readout: str = "darkest") -> dict[str, float]:
    """``eval/train/*`` and ``eval/train_score`` of the images sampled at ``sample``'s labels."""
    if len(images) != len(sample.labels):
        raise ValueError(f"{len(images)} images for {len(sample.labels)} training labels")
    scored = scored_labels(sample, spec)
    if not scored.any():
        return {}
    correct = training_correct(images, sample, spec, readout)
    metrics = {"eval/train/acc": correct[scored].double().mean().item(), "eval/train/n": int(scored.sum())}
    per_class = []
    for name in POSITIONED:
        mask = scored & (sample.dimension == DIMENSIONS.index(name))
        if mask.any():
            per_class.append(correct[mask].double().mean().item())
            metrics[f"eval/train/{name}/acc"] = per_class[-1]
            metrics[f"eval/train/{name}/n"] = int(mask.sum())
    metrics["eval/train_score"] = min(per_class)
    return metrics
