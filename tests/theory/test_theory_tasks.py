"""The Hydra task entries: tiny configs run, return their metrics, write figures; bad values are named."""

import math
from pathlib import Path

import pytest
from hydra.utils import get_method
from omegaconf import OmegaConf

from diffcomp.theory import identity_mapping, percolation

CONF = Path(__file__).resolve().parents[2] / "conf" / "task"


def tiny_percolation(**changes):
    cfg = dict(
        name="percolation",
        fn="diffcomp.theory.percolation.run",
        size=8,
        grid_step=1.0,
        sigmas=[0.5, 1.0],
        lambdas=[0.5, 1.0],
        seeds=[0, 1],
        thresholds=[0.005, 0.05],
        normalization="self",
        level=0.5,
        increment_max=2.0,
        increment_step=0.1,
        reference=None,
    )
    return OmegaConf.create({**cfg, **changes})


def tiny_identity(**changes):
    cfg = dict(
        name="identity_mapping",
        fn="diffcomp.theory.identity_mapping.run",
        d=3,
        s=2,
        mu=[1.0, 2.0],
        sigma=0.1,
        n=20,
        lr=0.05,
        steps=200,
        init="gaussian",
        init_scale=0.1,
        model=["linear", "symmetric", "mlp"],
        hidden=8,
        seeds=[0, 1, 2],
        seed=None,
        learn_fractions=[0.5, 0.9],
        swing_tolerance=0.01,
    )
    return OmegaConf.create({**cfg, **changes})


def test_percolation_run_returns_metrics_table_and_figures(tmp_path):
    result = percolation.run(tiny_percolation(), tmp_path)
    metrics = result["metrics"]
    for sigma in ("0.5", "1"):
        for threshold in ("0.005", "0.05"):
            assert f"lambda_half/sigma{sigma}_thr{threshold}" in metrics
            assert 0 <= metrics[f"mass_ratio_at_max_lambda/sigma{sigma}_thr{threshold}"] <= 1
        assert 0 < metrics[f"overlap_unit_neighbour/sigma{sigma}"] < 1
    assert all(isinstance(v, (int, float, bool)) for v in metrics.values())
    assert set(result["timings"]) == {"overlap_curves_s", "mass_ratio_sweep_s"}
    for name in (
        "overlap_vs_increment.png",
        "mass_ratio_vs_lambda.png",
        "percolation.npz",
        "lambda_half.md",
        "lambda_half.csv",
    ):
        assert (tmp_path / name).stat().st_size > 0
    # the crossing table: one row per (sigma, threshold), the same numbers as the metrics
    assert len(result["crossings"]) == 4
    for row in result["crossings"]:
        key = f"lambda_half/sigma{row['sigma']:g}_thr{row['threshold']:g}"
        assert row["lambda_half"] == metrics[key] or (math.isnan(row["lambda_half"]) and math.isnan(metrics[key]))
    table = (tmp_path / "lambda_half.md").read_text()
    assert "| σ | overlap at d = 1 | thr 0.005 (Fig. 6c) | thr 0.05 (Fig. 14b) |" in table
    assert len((tmp_path / "lambda_half.csv").read_text().strip().splitlines()) == 1 + 4


def test_percolation_accepts_unsorted_lambdas_and_a_scalar_threshold(tmp_path):
    result = percolation.run(tiny_percolation(lambdas=[1.0, 0.5], thresholds=0.05, sigmas=[1.0]), tmp_path)
    assert set(result["metrics"]) == {
        "lambda_half/sigma1_thr0.05",
        "mass_ratio_at_max_lambda/sigma1_thr0.05",
        "overlap_unit_neighbour/sigma1",
    }


def test_identity_mapping_run_summarises_seeds(tmp_path):
    result = identity_mapping.run(tiny_identity(), tmp_path)
    metrics = result["metrics"]
    for model in ("linear", "symmetric", "mlp"):
        for key in (
            "swing_by_fraction",
            "swing_by_seeds",
            "swing_relative_amplitude_median",
            "ood_loss_final_max",
            "first_learned_0.9",
            "first_learned_is_strongest_0.5",
            "learned_in_order_of_mu_0.9",
            "learned_in_order_of_a_0.5",
            "learn_step_0.9_c2",
            "cluster1_loss_final_max",
        ):
            assert f"{model}/{key}" in metrics, key
        assert metrics[f"{model}/seeds"] == 3
        assert 0 <= metrics[f"{model}/swing_by_fraction"] <= 1
        assert metrics[f"{model}/swing_by_fraction"] == metrics[f"{model}/swing_by_seeds"] / 3
        assert metrics[f"{model}/train_loss_final_max"] < metrics[f"{model}/ood_loss_initial_mean"]
    assert all(isinstance(v, (int, float, bool)) for v in metrics.values())
    assert metrics["linear/swing_by_fraction"] == 0.0  # the one-layer model cannot swing by
    assert metrics["linear/first_learned_0.9"] == 2  # mu = (1, 2): concept 2 is the stronger
    assert metrics["linear/closed_form_rel_error"] < 0.05
    assert metrics["theory/a2"] == pytest.approx(0.01 + 2.0)
    assert [(r["model"], r["seed"]) for r in result["per_seed"]] == [
        (m, s) for m in ("linear", "symmetric", "mlp") for s in range(3)
    ]
    assert sum(result["learning_order"]["symmetric"]["0.9"].values()) == 3
    for name in (
        "ood_loss_by_seed.png",
        "ood_loss.png",
        "concept_trajectory.png",
        "jacobian_entries.png",
        "identity_mapping.npz",
    ):
        assert (tmp_path / name).stat().st_size > 0


def test_identity_mapping_single_seed_overrides_the_list(tmp_path):
    result = identity_mapping.run(tiny_identity(seed=4, model="symmetric", steps=50), tmp_path)
    assert result["metrics"]["symmetric/seeds"] == 1
    assert [r["seed"] for r in result["per_seed"]] == [4]


def test_run_accepts_the_whole_job_config(tmp_path):
    whole = OmegaConf.create({"task": tiny_identity(model="linear", steps=20), "seed": 0, "lambda": 1.0})
    assert "linear/ood_loss_final_max" in identity_mapping.run(whole, tmp_path)["metrics"]


@pytest.mark.parametrize("name, module", [("percolation", percolation), ("identity_mapping", identity_mapping)])
def test_config_files_validate_and_point_to_run(name, module):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    assert cfg.name == name
    assert get_method(cfg.fn) is module.run
    module.validate(cfg)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"thresholds": [-1]}, "task.thresholds"),
        ({"sigmas": [0.5, 0.0]}, "task.sigmas"),
        ({"lambdas": [0.0, 0.5]}, "task.lambdas"),
        ({"lambdas": [0.01]}, "task.lambdas"),  # keeps no point of the 8 x 8 grid
        ({"normalization": "max"}, "task.normalization"),
        ({"size": 1}, "task.size"),
    ],
)
def test_percolation_rejects_bad_values(changes, field, tmp_path):
    with pytest.raises(ValueError, match=field):
        percolation.run(tiny_percolation(**changes), tmp_path)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"mu": [1.0, 2.0, 3.0]}, "task.mu"),
        ({"s": 4}, "task.s"),
        ({"sigma": [0.1, 0.2, 0.3]}, "task.sigma"),
        ({"sigma": -0.1}, "task.sigma"),
        ({"lr": 0.0}, "task.lr"),
        ({"steps": 1.5}, "task.steps"),
        ({"model": "deep"}, "task.model"),
        ({"model": ["linear", "conv"]}, "task.model"),
        ({"init": "zeros"}, "task.init"),
        ({"learn_fractions": [1.0]}, "task.learn_fractions"),
        ({"seeds": [0, 0]}, "task.seeds"),
        ({"seeds": [-1]}, "task.seeds"),
        ({"seeds": []}, "task.seeds"),
        ({"seed": 1.5}, "task.seed"),
    ],
)
def test_identity_mapping_rejects_bad_values(changes, field, tmp_path):
    with pytest.raises(ValueError, match=field):
        identity_mapping.run(tiny_identity(**changes), tmp_path)
