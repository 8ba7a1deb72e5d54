"""Length generalisation with local conditional scores (issue #7 part 3): data, metric, locality, task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from support import compose_config

from diffcomp.config.errors import ConfigError
from diffcomp.eval.readout import count_features
from diffcomp.eval.samples_file import SAMPLES_BY_K_ARRAYS, load_sample_arrays
from diffcomp.localscores.directions import condition_directions, cosine_matrix, off_diagonal_summary
from diffcomp.localscores.global_unet import SetConditionedUNet
from diffcomp.localscores.local_denoiser import LocalDenoiser, condition_map
from diffcomp.localscores.matching import detect_bumps, hits, per_count_metrics, score_scenes
from diffcomp.localscores.scenes import (
    SceneSpec,
    condition_sets,
    distinguishable_separation,
    make_scenes,
    render_scenes,
    sample_locations,
)


def scenes(counts, spec=None, regime="all", seed=0, k_max=6):
    spec = spec or SceneSpec()
    generator = torch.Generator().manual_seed(seed)
    return make_scenes(torch.tensor(counts), k_max, spec, regime, generator)


# ----------------------------------------------------------------------------- data and metric
@pytest.mark.parametrize("spec", [SceneSpec(), SceneSpec(size=24, min_separation=5, composition="multiply")])
def test_ground_truth_scenes_score_one_for_every_count(spec):
    counts = [k for k in range(1, 7) for _ in range(40)]
    images, conditions = scenes(counts, spec)
    scores = score_scenes(images.numpy(), conditions.numpy())
    per_k = per_count_metrics(scores)
    assert sorted(per_k) == [1, 2, 3, 4, 5, 6]
    for k, row in per_k.items():
        assert row == {"match": 1.0, "recall": 1.0, "count_error": 0.0, "exact_count": 1.0, "n": 40}, k
    centres = detect_bumps(images[-1].numpy())  # six bumps, centroids on the locations (multiplied tails
    assert len(centres) == 6 == count_features(images[-1:].numpy())[0]  # pull them by < 0.01 pixel)
    assert hits(centres, conditions[-1, :, :2].numpy(), tolerance=0.01) == 6


def test_locations_are_separated_inside_the_margin_and_shuffled():
    spec = SceneSpec()
    generator = torch.Generator().manual_seed(1)
    locations, valid = sample_locations(torch.full((300,), 6), 6, spec, generator)
    assert valid.all()
    gaps = (locations[:, :, None] - locations[:, None, :]).abs().amax(-1) + 99 * torch.eye(6)
    assert gaps.min() >= spec.min_separation
    assert locations.min() >= 1 + spec.margin and locations.max() <= spec.size - spec.margin
    assert (locations == locations.round()).all()


def test_default_separation_is_the_smallest_that_keeps_bumps_apart():
    assert distinguishable_separation(1.0, "min") == 4  # at 3, diagonal neighbours' dark pixels touch
    assert distinguishable_separation(1.0, "multiply") == 5  # multiplied tails add up


def test_regime_one_labels_one_bump_that_is_in_the_image():
    images, conditions = scenes([3, 2, 1, 3], regime="one")
    assert (conditions[:, :, 2].sum(1) == 1).all() and (conditions[:, 1:] == 0).all()
    for image, cond in zip(images, conditions):
        x, y = cond[0, :2].long().tolist()
        assert image[y - 1, x - 1] == pytest.approx(0.0, abs=1e-3)  # a bump's centre is black
    assert count_features(images.numpy()).tolist() == [3, 2, 1, 3]  # the unlabelled bumps are drawn


def test_wrong_counts_give_their_count_error():
    spec = SceneSpec()
    generator = torch.Generator().manual_seed(2)
    locations, valid = sample_locations(torch.tensor([5, 5]), 6, spec, generator)
    drawn = valid.clone()
    drawn[0, 3:] = False  # image 0 shows 3 of the 5 requested bumps
    asked = valid.clone()
    asked[1, 2:] = False  # image 1 shows 5 bumps, 2 were requested
    images = render_scenes(locations, drawn, spec)
    scores = score_scenes(images.numpy(), condition_sets(locations, asked).numpy())
    assert scores.count_error.tolist() == [2, 3]
    assert scores.match.tolist() == [False, False]
    assert scores.recall.tolist() == pytest.approx([3 / 5, 1.0])
    shifted = condition_sets(locations, valid)
    shifted[0, 0, 0] += 1.0  # one location off by exactly a pixel: no longer a hit (|dx| < 1)
    full = score_scenes(render_scenes(locations, valid, spec).numpy(), shifted.numpy())
    assert full.match.tolist() == [False, True] and full.count_error.tolist() == [0, 0]


@pytest.mark.parametrize("regime", ["all", "one"])
def test_a_model_drawing_its_training_scenes_scores_one_on_them(regime):
    from diffcomp.localscores.callback import training_metrics
    from diffcomp.localscores.datamodule import LocalScoresDataModule
    from diffcomp.localscores.matching import answers_training_scene

    dm = LocalScoresDataModule(train_scenes=300, regime=regime, train_samples=30, seed=5)
    dm.setup()
    sample = dm.train_sample
    counts = dm.train_scene_counts[sample]
    assert sorted(counts.tolist()) == [1] * 10 + [2] * 10 + [3] * 10  # evenly per trained k
    served = torch.cat([batch[0] for batch in dm.val_dataloader()[1]])
    assert torch.equal(served, dm.train_conditions[sample])  # the training scenes' own conditions
    again = LocalScoresDataModule(train_scenes=300, regime=regime, train_samples=30, seed=5)
    again.setup()
    assert torch.equal(again.train_sample, sample)  # the same scenes at every evaluation and after a resume
    images = (dm.train_images[sample, 0] + 1) * 127.5  # the training images themselves, in [0, 255]
    scores = score_scenes(images.numpy(), served.numpy())
    right = answers_training_scene(scores, regime, dm.train_counts)
    assert right.all()
    metrics = training_metrics(right, counts.numpy())
    assert metrics["eval/train_score"] == metrics["eval/train/match"] == 1.0 and metrics["eval/train/k3/match"] == 1.0


def test_training_scenes_are_answered_by_their_regime():
    import numpy as np

    from diffcomp.localscores.matching import SceneScores, answers_training_scene

    # requested (labelled) bumps, detected bumps, hits: a full hit with 3 drawn, a miss, 5 drawn
    scores = SceneScores(np.array([3, 1, 1]), np.array([3, 2, 5]), np.array([3, 0, 1]), np.array([True, False, False]))
    assert answers_training_scene(scores, "all", [1, 2, 3]).tolist() == [True, False, False]  # match
    # regime one: the labelled bump hit and a trained count drawn (the rest is left to chance)
    one = SceneScores(np.array([1, 1, 1]), np.array([3, 2, 5]), np.array([1, 0, 1]), np.array([False, False, False]))
    assert answers_training_scene(one, "one", [1, 2, 3]).tolist() == [True, False, False]


# ----------------------------------------------------------------------------- locality
def _one_condition(x, y, k_max=6):
    cond = torch.zeros(1, k_max, 3)
    cond[0, 0] = torch.tensor([float(x), float(y), 1.0])
    return cond


def test_local_model_output_ignores_everything_outside_its_receptive_field():
    torch.manual_seed(0)
    model = LocalDenoiser(image_size=16, width=8, depth=2, encoding_dim=8, cond_radius=1).eval()
    radius = model.receptive_radius()
    assert radius == {"pixels": 3, "conditions": 4}
    row, col = 4, 4  # the probed output pixel (0-based); its pixel coordinates are (5, 5)
    x = torch.randn(1, 1, 16, 16)
    t = torch.tensor([500])
    base_cond = _one_condition(14, 14)
    with torch.no_grad():
        out = model(x, t, base_cond)[0, 0, row, col]

        def changed(x2=x, cond=base_cond) -> float:
            return (model(x2, t, cond)[0, 0, row, col] - out).abs().item()

        far, near = x.clone(), x.clone()
        far[0, 0, row + radius["pixels"] + 1, col] += 5.0
        near[0, 0, row + radius["pixels"], col] += 5.0
        assert changed(far) == 0.0
        assert changed(near) > 1e-5  # the stated radius is also reached
        c = radius["conditions"]
        assert changed(cond=_one_condition(5 + c + 1, 5)) == 0.0  # a condition just outside: no effect
        assert changed(cond=_one_condition(5, 5 + c)) > 1e-5  # just inside: an effect
        two = torch.cat([_one_condition(14, 14)[:, :1], _one_condition(5 + c + 2, 2)[:, :1], torch.zeros(1, 4, 3)], 1)
        assert changed(cond=two) == 0.0  # adding a second, distant condition changes nothing here


def test_condition_map_is_zero_outside_its_window():
    cmap = condition_map(_one_condition(8, 8), 16, sigma=0.5, radius=1)[0, 0]
    assert cmap[7, 7] == pytest.approx(1.0)
    assert (cmap > 0).sum() == 9 and cmap[5, 7] == 0
    assert condition_map(torch.zeros(1, 6, 3), 16).abs().sum() == 0  # the empty set renders blank


def test_global_model_output_depends_on_far_pixels_and_conditions():
    torch.manual_seed(0)
    model = SetConditionedUNet(16, [8, 8, 8, 8], 8, 8, heads=2).eval()
    x = torch.randn(1, 1, 16, 16)
    t = torch.tensor([500])
    with torch.no_grad():
        out = model(x, t, _one_condition(14, 14))[0, 0, 0, 0]
        far = x.clone()
        far[0, 0, 15, 15] += 5.0
        assert (model(far, t, _one_condition(14, 14))[0, 0, 0, 0] - out).abs() > 1e-6
        assert (model(x, t, _one_condition(13, 14))[0, 0, 0, 0] - out).abs() > 1e-6


def test_condition_directions_of_far_apart_locations_are_orthogonal_for_the_local_model():
    torch.manual_seed(0)
    local = LocalDenoiser(image_size=16, width=8, depth=2, encoding_dim=8)
    corners = torch.tensor([[2.0, 2.0], [15.0, 2.0], [2.0, 15.0], [15.0, 15.0]])
    cos = cosine_matrix(condition_directions(local, corners, 6, t=800, num_noise=4))
    assert torch.allclose(cos, torch.eye(4), atol=1e-6)
    glob = SetConditionedUNet(16, [8, 8, 8, 8], 8, 8, heads=2)
    summary = off_diagonal_summary(cosine_matrix(condition_directions(glob, corners, 6, t=800, num_noise=4)))
    assert summary["max_abs_cos"] > 0.01


# ----------------------------------------------------------------------------- the experiment
# experiment=local_scores runs through the one training path: data=scenes, a model, eval=local_scores.
TINY = [
    "experiment=local_scores",
    "data.size=16",
    "data.train_scenes=48",
    "data.samples_per_count=2",
    "train.steps=3",
    "train.batch_size=16",
    "eval.batch_size=32",
    "train.warmup_steps=1",
    "diffusion.timesteps=50",
    "eval.steps=2",
    "eval.callback.direction_samples=2",
    "eval.callback.direction_t=40",
    "eval.grid_size=2",
    "logger=csv",
    "trainer.enable_progress_bar=false",
]
MODELS = {
    "set_unet": [
        "model=set_unet",
        "model.channels=[8,8,8,8]",
        "model.bottleneck=8",
        "model.heads=2",
        "model.encoding_dim=8",
    ],
    "local_denoiser": ["model=local_denoiser", "model.width=8", "model.depth=1", "model.encoding_dim=8"],
}


def tiny(model: str = "local_denoiser", *overrides: str):
    return compose_config([*TINY, *MODELS[model], *overrides])


@pytest.mark.parametrize("model, regime", [("set_unet", "all"), ("local_denoiser", "one")])
def test_tiny_run_returns_metrics_and_figures(tmp_path, model, regime):
    from diffcomp.tasks import run_job

    record = run_job(tiny(model, f"data.regime={regime}"), out_dir=tmp_path)
    metrics = record["metrics"]
    for k in range(1, 7):
        for name in ("match", "recall", "count_error", "exact_count"):
            assert f"eval/k{k}/{name}" in metrics
    for key in (
        "eval/match_in",
        "eval/match_out",
        "eval/count_error_out",
        "directions/mean_abs_cos",
        "train/final_loss",
        "eval/loss",
    ):
        assert key in metrics
    assert metrics["train/final_loss"] > 0  # a finite training loss was recorded
    assert record["timings"]["train_steps"] == 3
    assert set(record["per_count"]) == {str(k) for k in range(1, 7)}
    assert 0.0 <= metrics["locality/pixels/mean"] <= 1.0 and 0.0 <= metrics["locality/conditions/mean"] <= 1.0
    assert len(record["locality"]["pixels"]["timesteps"]) == 6
    # beside it, the training set's ideal denoiser on the same t, and the loss weight abar/(1-abar) there
    ideal, weight = record["locality_ideal"], record["locality_loss_weight"]
    assert ideal["pixels"]["timesteps"] == record["locality"]["pixels"]["timesteps"] == weight["timesteps"]
    # NaN where the ideal's score depends on no other pixel (low t: one training scene), else a share
    values = ideal["pixels"]["mean"] + ideal["conditions"]["mean"]
    assert all(math.isnan(v) or 0.0 <= v <= 1.0 for v in values) and sum(not math.isnan(v) for v in values) >= 6, ideal
    assert weight["values"] == sorted(weight["values"], reverse=True)  # less weight at higher noise
    for name in (
        "accuracy_vs_k.png",
        "samples_by_k.png",
        "cosines.png",
        "locality_vs_t.png",
        "model.pt",
        "checkpoints/last.ckpt",
    ):
        assert (tmp_path / name).stat().st_size > 0  # the one training path: checkpoints and records too
    # the grid's samples as arrays: up to grid_per_count per requested k, with their condition sets
    arrays = load_sample_arrays(tmp_path / SAMPLES_BY_K_ARRAYS)
    assert set(arrays) == {"images", "labels", "index"} and arrays["images"].dtype == np.uint8
    assert arrays["labels"].shape == (len(arrays["index"]), arrays["labels"].shape[1], 3)
    counts = arrays["labels"][:, :, 2].sum(axis=1).astype(int)
    assert np.bincount(counts)[1:].tolist() == [2] * 6 and (np.diff(counts) >= 0).all()  # eval.grid_size=2, by k
    assert record["config"]["data"]["regime"] == regime
    assert 0.0 <= metrics["eval/train_score"] <= metrics["eval/train/match"] <= 1.0  # its own training scenes


def test_sweep_jobs_write_records_and_the_comparison_figure(tmp_path):
    from diffcomp.localscores.figures import compare_sweep
    from diffcomp.tasks import run_job

    for model in MODELS:
        record = run_job(tiny(model), tmp_path / model)
        assert record["status"] == "complete" and "eval/match_out" in record["metrics"]
    assert compare_sweep(tmp_path).stat().st_size > 0


def test_the_experiment_validates_for_both_models_and_regimes():
    from diffcomp.tasks import validate_job

    for model in MODELS:
        for regime in ("all", "one"):
            summary = validate_job(
                compose_config(["experiment=local_scores", f"model={model}", f"data.regime={regime}"])
            )
            assert summary["regime"] == regime and summary["images"] == 6000


@pytest.mark.parametrize(
    "changes, field",
    [
        (["data.regime=some"], "data.regime"),
        (["model=set_unet", "data.size=20"], "data.size"),
        (["data.eval_counts=[1,0]"], "data.eval_counts"),
        (["data.train_counts=[]"], "data.train_counts"),
        (["data.max_conditions=4"], "data.max_conditions"),
        (["data.min_separation=3"], "data.min_separation"),  # bumps would merge
        (["data.min_separation=6"], "data.min_separation"),  # six bumps no longer fit
        (["data.composition=multiply"], "data.min_separation"),  # multiply needs 5 apart
        (["data.composition=sum"], "data.composition"),
        (["eval.steps=2000"], "eval.steps"),
        (["eval.sampler=euler"], "eval.sampler"),
        (["eval.callback.direction_layer=block9"], "eval.callback.direction_layer"),
        (["eval.callback.direction_locations=[[0,3]]"], "eval.callback.direction_locations"),
        (["model=set_unet", "model.heads=3"], "model.heads"),
        (["train.batch_size=0"], "train.batch_size"),
        (["train.lr=0"], "train.lr"),
    ],
)
def test_bad_values_fail_before_any_compute_naming_the_field(changes, field):
    from diffcomp.tasks import validate_job

    with pytest.raises(ConfigError) as info:
        validate_job(compose_config(["experiment=local_scores", *changes]))
    assert info.value.field == field
