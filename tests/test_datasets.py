"""Dataset variants: counts against hand-computed numbers, the extended-canvas crop, region
boundaries, per-section evaluation, previews, and the errors of impossible variants."""

import math

import pytest
import torch

from support import compose_config
from diffcomp.config.errors import ConfigError
from diffcomp.data.datamodule import spec_options
from diffcomp.data.canvas import CanvasSpec, evaluation_labels, evaluation_sections, render_set, training_set
from diffcomp.data.regions import DIMENSIONS, Holdout, dimension_codes
from diffcomp.eval.callback import score_samples


def spec_of(data_name: str, *overrides: str) -> CanvasSpec:
    cfg = compose_config([f"data={data_name}", "experiment=paper", "data.increment=1", *overrides])
    spec = CanvasSpec.from_options(**spec_options(cfg.data))
    spec.validate()
    return spec


def count_by_dimension(spec: CanvasSpec) -> dict[str, int]:
    dims = training_set(spec).dimension
    return {name: int((dims == i).sum()) for i, name in enumerate(DIMENSIONS) if (dims == i).any()}


def test_extended_label_space_is_44_by_44_and_splits_by_visibility():
    # margin 6 around 32: labels -5..38 per axis. Per axis with sigma=1, visibility 3: 32 inside,
    # 3 + 3 within 3 sigma of the frame (visible), 3 + 3 hidden.
    spec = spec_of("sos", "data.margin=null")
    grid = spec.label_grid()
    assert len(grid) == 44 * 44 and grid.min().item() == -5 and grid.max().item() == 38
    codes = dimension_codes(grid, 32, 1.0, 1.0, 3.0)
    counts = {name: int((codes == i).sum()) for i, name in enumerate(DIMENSIONS)}
    assert counts == {"2d": 32 * 32, "rim": 38 * 38 - 32 * 32, "1d": 2 * 38 * 6, "0d": 6 * 6}


@pytest.mark.parametrize(
    "data,overrides,expected",
    [
        ("bump", [], {"2d": 1024}),
        ("bump", ["data.holdout.type=cross"], {"2d": 32 * 32 - 7 * 32 * 2 + 7 * 7}),  # 625
        ("bump", ["data.holdout.type=band", "data.holdout.width=4"], {"2d": 1024 - 5 * 32}),
        ("bump", ["data.holdout.type=square", "data.holdout.width=4"], {"2d": 1024 - 25}),
        ("bump", ["data.holdout.type=square", "data.holdout.width=4", "data.holdout.place=exterior"], {"2d": 1024 - 25}),
        ("bump", ["data.holdout.type=square", "data.holdout.area=0.2"], {"2d": 1024 - 15 * 15}),
        # cross removes 7 of the 38 visible values per axis: 1D = 2 x 31 x 6, rim = 31^2 - 25^2
        ("stripes", [], {"1d": 2 * 31 * 6}),
        ("stripes_rim", [], {"rim": 31**2 - 25**2, "1d": 2 * 31 * 6}),
        ("sos_stripes", [], {"2d": 625, "rim": 336, "1d": 372}),
        ("bump_stripes", [], {"2d": 625, "1d": 372}),
        ("bump_stripes", ["data.parts.0.fraction=0.2"], {"2d": 125, "1d": 372}),
        # one orientation: vertical stripes (mu_x visible, mu_y hidden) are half of the 1D labels
        ("stripes", ["data.parts.0.region=1d_vertical"], {"1d": 31 * 6}),
        ("stripes", ["data.parts.0.region=1d_horizontal"], {"1d": 31 * 6}),
        ("torus", [], {"2d": 1024}),
    ],
)
def test_variant_counts_match_hand_computed_numbers(data, overrides, expected):
    assert count_by_dimension(spec_of(data, *overrides)) == expected


def test_vertical_stripes_are_the_ones_at_mu_x():
    labels = training_set(spec_of("stripes", "data.parts.0.region=1d_vertical")).labels
    assert ((labels[:, 0] >= -2) & (labels[:, 0] <= 35)).all()  # mu_x visible
    assert ((labels[:, 1] < -2) | (labels[:, 1] > 35)).all()  # mu_y hidden


def test_constant_batches_hold_the_number_of_steps_across_lambda():
    from hydra.utils import instantiate

    from diffcomp.train import training_budget

    budgets = {}
    for lam in (0.1, 0.5, 1.0):
        cfg = compose_config([f"lambda={lam}", "train.constant_batches=true", "train.epochs=3"])
        budgets[lam] = training_budget(cfg, instantiate(cfg.data, _convert_="all"))
    assert {b["max_steps"] for b in budgets.values()} == {3 * 8}  # 3 epochs x (256 images / batch 32)
    cfg = compose_config(["lambda=0.5", "train.epochs=3"])
    assert training_budget(cfg, instantiate(cfg.data, _convert_="all")) == {"max_epochs": 3, "max_steps": -1}


def test_the_crop_places_a_lone_vertical_stripe_where_the_formula_says():
    spec = spec_of("stripes")
    labels = torch.tensor([[10.0, -5.0]], dtype=torch.float64)  # horizontal stripe 6 px above the frame
    from diffcomp.data.canvas import LabelSet

    image = render_set(spec, LabelSet(labels, torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long)))[0]
    for x, y in [(10, 1), (12, 5), (1, 32)]:
        expected = 255 * (1 - 0.5 * (math.exp(-((x - 10) ** 2) / 4) + math.exp(-((y + 5) ** 2) / 4)))
        assert image[y - 1, x - 1].item() == pytest.approx(expected, rel=1e-5)
    assert (image.mean(dim=0).argmin().item() + 1) == 10


def test_cross_region_membership_is_inclusive_on_its_boundaries():
    cross = Holdout("cross", 6.0, 16.0, size=32)
    inside = torch.tensor([[13.0, 1.0], [19.0, 30.0], [1.0, 13.0], [2.0, 19.0]])
    outside = torch.tensor([[12.9, 1.0], [19.1, 30.0], [12.0, 20.0]])
    assert cross.contains(inside).all() and not cross.contains(outside).any()
    sections = cross.sections(torch.tensor([[13.0, 5.0], [5.0, 19.0], [19.0, 13.0], [5.0, 5.0]]))
    assert sections["vertical"].tolist() == [True, False, False, False]
    assert sections["horizontal"].tolist() == [False, True, False, False]
    assert sections["intersection"].tolist() == [False, False, True, False]
    assert sections["id"].tolist() == [False, False, False, True]


def test_square_regions_on_their_boundaries():
    interior = Holdout("square", 4.0, 16.0, "interior", 32)
    assert interior.contains(torch.tensor([[14.0, 18.0], [18.0, 14.0]])).all()
    assert not interior.contains(torch.tensor([[13.9, 16.0], [16.0, 18.1]])).any()
    exterior = Holdout("square", 4.0, 16.0, "exterior", 32)
    assert exterior.contains(torch.tensor([[28.0, 28.0], [32.0, 30.0]])).all()
    assert not exterior.contains(torch.tensor([[27.9, 32.0], [32.0, 1.0]])).any()


def test_ground_truth_images_score_one_in_every_section():
    spec = spec_of("bump", "data.holdout.type=cross")
    labels = evaluation_labels(spec).float()
    from diffcomp.data.canvas import render_images

    metrics = score_samples(render_images(spec, labels), labels, "darkest", None, evaluation_sections(spec, labels))
    sections = {"id", "ood", "vertical", "horizontal", "intersection"}
    for section in sections:
        for axis in ("acc", "acc_x", "acc_y"):
            assert metrics[f"eval/{section}/{axis}"] == 1.0, (section, axis)


def test_sos_ground_truth_reads_out_per_axis_with_one_feature_each():
    spec = spec_of("sos")
    labels = evaluation_labels(spec).float()
    from diffcomp.data.canvas import render_images

    metrics = score_samples(render_images(spec, labels), labels, "profile")
    assert metrics["eval/acc"] == 1.0 and metrics["eval/frac_one_feature"] == 1.0


def test_preview_writes_a_png(tmp_path):
    from diffcomp.data.datamodule import CanvasDataModule
    from diffcomp.data.preview import save_preview

    cfg = compose_config(["data=sos_stripes", "experiment=paper", "data.increment=2"])
    from hydra.utils import instantiate

    dm = instantiate(cfg.data, _convert_="all")
    assert isinstance(dm, CanvasDataModule)
    path = save_preview(dm, tmp_path / "dataset.png")
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize(
    "overrides,field,allowed",
    [
        (["data.holdout.type=cross", "data.holdout.width=40"], "data.holdout.width", "(0, 32)"),
        (["data.holdout.type=band", "data.holdout.center=30", "data.holdout.width=6"], "data.holdout.width", "inside [1, 32]"),
        (["data.holdout.type=band", "data.holdout.center=40"], "data.holdout.center", "[1, 32]"),
        (["data.holdout.type=ring"], "data.holdout.type", "cross, band, square"),
        (["data.sigma_x=0"], "data.sigma_x", "> 0"),
        (["data=bump_stripes", "data.parts.0.fraction=1.5"], "data.parts[0].fraction", "[0, 1]"),
        (["data=stripes", "data.periodic=true"], "data.periodic", "extended label space"),
        (["data=stripes", "data.parts.0.region=0d", "data.holdout.type=null", "data.margin=0"], "data", "at least one training image"),
        (["data.holdout.type=square", "data.holdout.area=1.2"], "data.holdout.area", "(0, 1)"),
    ],
)
def test_impossible_variants_fail_naming_the_field(overrides, field, allowed):
    with pytest.raises(ConfigError) as info:
        spec_of("bump", *overrides)
    assert info.value.field == field and allowed in str(info.value)
