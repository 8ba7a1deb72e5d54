"""Dataset variants: counts against hand-computed numbers, the extended-canvas crop, region
boundaries, per-section evaluation, previews, and the errors of impossible variants."""

import math

import pytest
import torch
from support import compose_config

from diffcomp.config.errors import ConfigError
from diffcomp.data.canvas import CanvasSpec, evaluation_labels, evaluation_sections, render_set
from diffcomp.data.regions import DIMENSIONS, Holdout, dimension_codes
from diffcomp.eval.callback import score_samples


def spec_of(data_name: str, *overrides: str) -> CanvasSpec:
    cfg = compose_config([f"data={data_name}", "experiment=paper", "data.increment=1", *overrides])
    return CanvasSpec.from_config(cfg.data)


def count_by_dimension(spec: CanvasSpec) -> dict[str, int]:
    dims = spec.label_set.dimension
    return {name: int((dims == i).sum()) for i, name in enumerate(DIMENSIONS) if (dims == i).any()}


def cross(lo=13.0, hi=19.0) -> Holdout:
    return Holdout("cross", (lo, hi), (lo, hi))


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
        # a square of side W is W / d grid values per axis: 4 x 4 at d=1, in the middle or the corner
        ("bump", ["data.holdout.type=square", "data.holdout.width=4"], {"2d": 1024 - 16}),
        (
            "bump",
            ["data.holdout.type=square", "data.holdout.width=4", "data.holdout.place=exterior"],
            {"2d": 1024 - 16},
        ),
        # 20 % of 32 x 32: only k^2 labels fit a centred square; 14^2 = 196 (19.1 %) is the nearest
        ("bump", ["data.holdout.type=square", "data.holdout.area=0.2"], {"2d": 1024 - 14 * 14}),
        # The cross removes compositions (2D and rim: 7 of the 38 visible values per axis gone) but
        # no 1D stripe and no 0D image: 1D = 2 x 38 visible x 6 hidden, 0D = 6 x 6, rim = 31^2 - 25^2.
        ("stripes", [], {"1d": 2 * 38 * 6, "0d": 36}),
        ("stripes_rim", [], {"rim": 31**2 - 25**2, "1d": 456, "0d": 36}),
        ("sos_stripes", [], {"2d": 625, "rim": 336, "1d": 456, "0d": 36}),
        ("bump_stripes", [], {"2d": 625, "1d": 456, "0d": 36}),
        ("bump_stripes", ["data.parts.0.fraction=0.2"], {"2d": 125, "1d": 456, "0d": 36}),
        ("stripes", ["data.parts.1.fraction=0"], {"1d": 456}),  # the 0D part is one override away
        ("stripes", ["data.holdout.parts=[2d,rim,1d]"], {"1d": 2 * 31 * 6, "0d": 36}),  # opt in to cutting 1D
        # one orientation: vertical stripes (mu_x visible, mu_y hidden) are half of the 1D labels
        ("stripes", ["data.parts.0.region=1d_vertical"], {"1d": 38 * 6, "0d": 36}),
        ("stripes", ["data.parts.0.region=1d_horizontal"], {"1d": 38 * 6, "0d": 36}),
        ("torus", [], {"2d": 1024}),
    ],
)
def test_variant_counts_match_hand_computed_numbers(data, overrides, expected):
    assert count_by_dimension(spec_of(data, *overrides)) == expected


def test_vertical_stripes_are_the_ones_at_mu_x():
    labels = spec_of("stripes", "data.parts.0.region=1d_vertical", "data.parts.1.fraction=0").label_set.labels
    assert ((labels[:, 0] >= -2) & (labels[:, 0] <= 35)).all()  # mu_x visible
    assert ((labels[:, 1] < -2) | (labels[:, 1] > 35)).all()  # mu_y hidden


@pytest.mark.parametrize("size", [8, 16, 24, 32, 40, 48])
@pytest.mark.parametrize("increment", [1.0, 0.5])
def test_every_canvas_has_1d_stripes_at_every_in_frame_position(size, increment):
    # Sec. 3.2: "1D Gaussian stripe data across the entire range of x and y without any held-out
    # regions" - at every N, and also with the cross held out.
    spec = spec_of("stripes", f"data.size={size}", f"data.increment={increment}")
    labels = spec.label_set.labels[spec.label_set.dimension == DIMENSIONS.index("1d")]
    vertical = labels[(labels[:, 0] >= 1) & (labels[:, 0] <= size)]  # a visible x-stripe inside the frame
    horizontal = labels[(labels[:, 1] >= 1) & (labels[:, 1] <= size)]
    positions = torch.arange(1, size + 1, dtype=torch.float64)
    assert set(positions.tolist()) <= set(vertical[:, 0].tolist())
    assert set(positions.tolist()) <= set(horizontal[:, 1].tolist())


def test_the_paper_extended_space_is_44_by_44_at_n32_and_keeps_its_width_at_other_n():
    assert len(spec_of("stripes").label_grid()) == 44 * 44
    assert len(spec_of("stripes", "data.size=16").label_grid()) == 28 * 28  # 6 px of margin at every N


def test_held_out_compositions_are_2d_and_rim_only():
    spec = spec_of("sos_stripes")
    labels, codes = spec.label_set.labels, spec.label_set.dimension
    inside_cross = cross().contains(labels)
    composed = (codes == DIMENSIONS.index("2d")) | (codes == DIMENSIONS.index("rim"))
    assert not (inside_cross & composed).any()
    assert (inside_cross & (codes == DIMENSIONS.index("1d"))).sum() > 0  # the stripes at mu in [13, 19] stay


@pytest.mark.parametrize("increment,side", [(1.0, 14), (0.1, 143)])
def test_area_holds_out_the_nearest_possible_share_of_the_2d_grid(increment, side):
    spec = spec_of("bump", "data.holdout.type=square", "data.holdout.area=0.2", f"data.increment={increment}")
    per_axis = round(32 / increment)
    assert spec.summary()["held_out_2d_fraction"] == pytest.approx(side**2 / per_axis**2, abs=1e-4)
    alternatives = [abs(k * k / per_axis**2 - 0.2) for k in (side - 1, side + 1)]
    assert abs(side**2 / per_axis**2 - 0.2) <= min(alternatives)


def test_0d_images_show_no_stripe():
    spec = spec_of("stripes")
    zero_d = spec.label_set.dimension == DIMENSIONS.index("0d")
    from diffcomp.data.canvas import LabelSet

    chosen = LabelSet(spec.label_set.labels[zero_d], spec.label_set.part[zero_d], spec.label_set.dimension[zero_d])
    images = render_set(spec, chosen)
    # beyond 3 sigma of the frame each stripe's ink is below e^{-9/4}/2 of the full depth
    assert len(images) == 36 and (images > 255 * (1 - math.exp(-9 / 4))).all()


def test_the_budget_is_the_same_number_of_steps_for_every_lambda():
    from diffcomp.train import prepare

    steps = {lam: prepare(compose_config([f"lambda={lam}"])).summary["max_steps"] for lam in (0.1, 0.5, 1.0)}
    assert set(steps.values()) == {2400}  # the quick default's steps, whatever lambda keeps
    by_epochs = prepare(compose_config(["lambda=0.5", "train.steps=null", "train.epochs=3"])).summary
    assert by_epochs["max_epochs"] == 3 and by_epochs["steps"] == 3 * 4  # 128 images / batch 32


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
    assert spec_of("bump", "data.holdout.type=cross").holdout == cross()  # [13, 19] at N=32, as in Fig. 4
    cross_region = cross()
    inside = torch.tensor([[13.0, 1.0], [19.0, 30.0], [1.0, 13.0], [2.0, 19.0]])
    outside = torch.tensor([[12.9, 1.0], [19.1, 30.0], [12.0, 20.0]])
    assert cross_region.contains(inside).all() and not cross_region.contains(outside).any()
    sections = cross_region.sections(torch.tensor([[13.0, 5.0], [5.0, 19.0], [19.0, 13.0], [5.0, 5.0]]))
    assert sections["vertical"].tolist() == [True, False, False, False]
    assert sections["horizontal"].tolist() == [False, True, False, False]
    assert sections["intersection"].tolist() == [False, False, True, False]
    assert sections["id"].tolist() == [False, False, False, True]


@pytest.mark.parametrize("size, bounds", [(32, (13.0, 19.0)), (16, (5.0, 11.0)), (8, (1.0, 7.0))])
def test_the_cross_is_as_wide_as_a_stripe_at_every_size(size, bounds):
    # Sec. 3.2: the cut is "around 6 pixels wide ... the width of the Gaussian stripes of sigma = 1.0"
    # ([13, 19] at N=32): the same 6 px at every N, never scaled below the stripe it hides.
    spec = spec_of("sos", f"data.size={size}", "data.increment=0.5", "data.holdout.type=cross")
    assert spec.holdout.x_range == spec.holdout.y_range == bounds
    # so a stripe centred in the cut reaches no trained composition within its 3-sigma profile
    composed = spec.label_set.labels[spec.label_set.dimension == DIMENSIONS.index("2d")]
    centre = size / 2
    assert (composed - centre).abs().min(dim=1).values.min() > 3 * spec.sigma_x


def test_the_cross_follows_each_axis_sigma_and_refuses_a_narrower_cut():
    spec = spec_of("sos", "data.holdout.type=cross", "data.sigma_x=1.0", "data.sigma_y=0.5")
    assert spec.holdout.x_range == (13.0, 19.0) and spec.holdout.y_range == (14.5, 17.5)
    assert spec_of("sos", "data.holdout.type=cross", "data.sigma=0.5", "data.holdout.width=3").holdout.x_range == (
        14.5,
        17.5,
    )
    with pytest.raises(ConfigError) as info:
        spec_of("sos", "data.size=16", "data.holdout.type=cross", "data.holdout.width=3")  # the old N/32-scaled cut
    assert info.value.field == "data.holdout.width" and ">= 6" in str(info.value)
    # band and square widths are the swept variable (Figs. 11, 12): narrower than a stripe stays allowed
    assert spec_of("bump", "data.holdout.type=band", "data.holdout.width=1").holdout.x_range == (15.5, 16.5)


def test_square_regions_on_their_boundaries():
    interior = spec_of("bump", "data.holdout.type=square", "data.holdout.width=4").holdout
    assert interior.x_range == (13.5, 17.5)  # the 4 grid values nearest to the centre 16: 14 .. 17
    assert interior.contains(torch.tensor([[14.0, 17.0], [17.0, 14.0]])).all()
    assert not interior.contains(torch.tensor([[13.0, 16.0], [16.0, 18.0]])).any()
    exterior = spec_of(
        "bump", "data.holdout.type=square", "data.holdout.width=4", "data.holdout.place=exterior"
    ).holdout
    assert exterior.contains(torch.tensor([[29.0, 29.0], [32.0, 30.0]])).all()
    assert not exterior.contains(torch.tensor([[28.0, 32.0], [32.0, 1.0]])).any()


@pytest.mark.parametrize("width", [3, 4, 6])
def test_interior_and_exterior_squares_hold_out_as_many_labels(width):
    # Fig. 12 compares the two places at the same W: the same number of compositions must go
    counts = {}
    for place in ("interior", "exterior"):
        spec = spec_of(
            "bump",
            "data.size=16",
            "data.increment=0.5",
            "data.holdout.type=square",
            f"data.holdout.width={width}",
            f"data.holdout.place={place}",
        )
        counts[place] = 32 * 32 - spec.num_training_labels()
    assert counts["interior"] == counts["exterior"] > 0


def test_ground_truth_images_score_one_in_every_section():
    spec = spec_of("bump", "data.holdout.type=cross")
    labels = evaluation_labels(spec).float()
    from diffcomp.data.canvas import render_images

    metrics = score_samples(render_images(spec, labels), labels, "darkest", None, evaluation_sections(spec, labels))
    sections = {"id", "ood", "vertical", "horizontal", "intersection"}
    for section in sections:
        for axis in ("acc", "acc_x", "acc_y"):
            assert metrics[f"eval/{section}/{axis}"] == 1.0, (section, axis)


@pytest.mark.parametrize("readout", ["darkest", "profile"])
def test_sos_ground_truth_reads_out_with_one_feature_each(readout):
    spec = spec_of("sos")
    labels = evaluation_labels(spec).float()
    from diffcomp.data.canvas import render_images

    metrics = score_samples(render_images(spec, labels), labels, readout, kind="sos")
    assert metrics["eval/acc"] == 1.0 and metrics["eval/frac_one_feature"] == 1.0


def test_preview_writes_a_png(tmp_path):
    from hydra.utils import instantiate

    from diffcomp.data.datamodule import CanvasDataModule

    cfg = compose_config(["data=sos_stripes", "experiment=paper", "data.increment=2"])
    dm = instantiate(cfg.data, _convert_="all")
    assert isinstance(dm, CanvasDataModule)
    path = dm.save_preview(tmp_path / "dataset.png")
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize(
    "overrides,field,allowed",
    [
        (["data.holdout.type=cross", "data.holdout.width=40"], "data.holdout.width", "(0, 32)"),
        (
            ["data.holdout.type=band", "data.holdout.center=30", "data.holdout.width=6"],
            "data.holdout.width",
            "inside [1, 32]",
        ),
        (["data.holdout.type=band", "data.holdout.center=40"], "data.holdout.center", "[1, 32]"),
        (["data.holdout.type=ring"], "data.holdout.type", "cross, band, square"),
        (["data.sigma_x=0"], "data.sigma_x", "> 0"),
        (["data=bump_stripes", "data.parts.0.fraction=1.5"], "data.parts[0].fraction", "[0, 1]"),
        (["data=stripes", "data.periodic=true"], "data.periodic", "extended label space"),
        (
            ["data=stripes", "data.parts.0.region=0d", "data.holdout.type=null", "data.margin=0"],
            "data",
            "at least one training image",
        ),
        (["data.holdout.type=cross", "data.holdout.parts=[2d,3d]"], "data.holdout.parts", "2d, rim, 1d, 0d"),
        (["data.holdout.type=cross", "data.holdout.area=0.2"], "data.holdout.area", "type=square"),
        (["data.holdout.type=square", "data.holdout.area=1.2"], "data.holdout.area", "(0, 1)"),
    ],
)
def test_impossible_variants_fail_naming_the_field(overrides, field, allowed):
    with pytest.raises(ConfigError) as info:
        spec_of("bump", *overrides)
    assert info.value.field == field and allowed in str(info.value)
