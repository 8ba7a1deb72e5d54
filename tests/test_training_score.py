"""The score on the model's own training distribution (diffcomp.eval.training): what it samples and
how it reads each kind of training image, against images with known answers (no training)."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from support import compose_config

from diffcomp.data.canvas import LabelSet, render_set, training_sample
from diffcomp.data.regions import DIMENSIONS, dimension_codes
from diffcomp.eval.training import training_scores

DATASETS = ["bump", "torus", "sos", "stripes", "stripes_rim", "sos_stripes", "bump_stripes"]


def datamodule(data: str, *overrides: str):
    cfg = compose_config([f"data={data}", "data.size=16", "data.increment=0.5", *overrides])
    return instantiate(cfg.data, _convert_="all")


def noisy(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Images with a grey level of seeded noise, as a sampler's never are exactly flat."""
    generator = torch.Generator().manual_seed(seed)
    return (images + torch.rand(images.shape, generator=generator) - 0.5).clamp(0, 255)


@pytest.mark.parametrize("data", DATASETS)
def test_a_model_reproducing_its_training_images_scores_one(data):
    dm = datamodule(data, "data.holdout.type=cross" if data == "sos" else "data.seed=0")
    metrics = training_scores(noisy(render_set(dm.spec, dm.train_sample)), dm.train_sample, dm.spec)
    assert metrics["eval/train_score"] == 1.0 and metrics["eval/train/acc"] == 1.0
    held = [name for name in ("2d", "rim", "1d") if (dm.spec.label_set.dimension == DIMENSIONS.index(name)).any()]
    assert [k for k in metrics if k.endswith("/acc") and k != "eval/train/acc"] == [f"eval/train/{c}/acc" for c in held]


def test_the_sample_is_drawn_from_the_training_labels_and_split_over_its_classes():
    dm = datamodule("sos_stripes")  # the cross held out of the compositions
    spec, sample = dm.spec, dm.train_sample
    training = {tuple(row) for row in spec.label_set.labels.tolist()}
    assert all(tuple(row) in training for row in sample.labels.tolist())
    codes = dimension_codes(sample.labels, spec.size, spec.sigma_x, spec.sigma_y, spec.visibility)
    assert torch.equal(codes, sample.dimension)
    assert not spec.holdout.removes(sample.labels, codes).any()  # no held-out composition is scored
    counts = {name: int((codes == DIMENSIONS.index(name)).sum()) for name in DIMENSIONS}
    assert counts == {"2d": 43, "rim": 43, "1d": 43, "0d": 0}  # ceil(128 / 3) each; blank 0D images have no position


def test_a_small_class_gives_all_of_its_labels_and_the_sample_is_fixed():
    labels = torch.tensor([[float(i), 1.0] for i in range(10)])
    dims = torch.tensor([0] * 8 + [1] * 2)  # eight 2D labels, two rim labels
    sample = training_sample(LabelSet(labels, torch.zeros(10, dtype=torch.long), dims), 6, seed=3)
    assert sample.dimension.tolist().count(0) == 3 and sample.dimension.tolist().count(1) == 2
    again = training_sample(LabelSet(labels, torch.zeros(10, dtype=torch.long), dims), 6, seed=3)
    assert torch.equal(sample.labels, again.labels)  # every evaluation and a resumed run score the same labels
    other = training_sample(LabelSet(labels, torch.zeros(10, dtype=torch.long), dims), 6, seed=4)
    assert not torch.equal(sample.labels, other.labels)
    # the datamodule serves it as the second validation loader, unchanged between evaluations
    dm = datamodule("bump")
    dm.setup()
    first, second = (torch.cat([b[0] for b in dm.val_dataloader()[1]]) for _ in range(2))
    assert torch.equal(first, second) and torch.equal(first.double(), dm.train_sample.labels)
    off = datamodule("bump", "eval.train_samples=0")
    off.setup()
    assert len(off.val_dataloader().tensors[0]) == 256  # off: the evaluation loader alone


def test_rim_images_without_their_partial_stripe_fail_the_rim_class_only():
    dm = datamodule("stripes_rim")
    spec, sample = dm.spec, dm.train_sample
    rim = sample.dimension == DIMENSIONS.index("rim")
    # What a model that never learned the rim draws: the fully visible stripe alone (the other centre
    # moved far outside), i.e. a 1D image at a rim label.
    lone = sample.labels.clone()
    outside = (lone < 1) | (lone > spec.size)
    farther = torch.where(lone < 1, torch.full_like(lone, -100.0), torch.full_like(lone, 100.0))
    lone[rim] = torch.where(outside[rim], farther[rim], lone[rim])
    images = noisy(render_set(spec, LabelSet(lone, sample.part, sample.dimension)))
    metrics = training_scores(images, sample, spec)
    assert metrics["eval/train/1d/acc"] == 1.0
    assert metrics["eval/train/rim/acc"] < 0.3 and metrics["eval/train_score"] == metrics["eval/train/rim/acc"]


def test_each_kind_is_read_on_its_own_axes():
    dm = datamodule("bump_stripes")
    spec, sample = dm.spec, dm.train_sample
    one_d = sample.dimension == DIMENSIONS.index("1d")
    inside_y = (sample.labels[:, 1] > 0) & (sample.labels[:, 1] <= 16)
    shifted = sample.labels.clone()  # every image whose mu_y is in the frame drawn 3 px off in y
    shifted[:, 1] += torch.where(inside_y, torch.where(shifted[:, 1] <= 8, 3.0, -3.0), 0.0)
    metrics = training_scores(noisy(render_set(spec, LabelSet(shifted, sample.part, sample.dimension))), sample, spec)
    assert metrics["eval/train/2d/acc"] == 0.0  # 2D bumps: both axes jointly
    # 1D stripes: only the visible stripe's axis counts, so the vertical ones (at mu_x) stay right
    wrong = int((one_d & inside_y).sum())
    assert 0 < wrong < int(one_d.sum())
    assert metrics["eval/train/1d/acc"] == pytest.approx(1 - wrong / int(one_d.sum()))
    assert metrics["eval/train_score"] == 0.0


def test_a_mismatched_sample_is_an_error():
    dm = datamodule("bump")
    with pytest.raises(ValueError, match="training labels"):
        training_scores(torch.zeros(3, 16, 16), dm.train_sample, dm.spec)
