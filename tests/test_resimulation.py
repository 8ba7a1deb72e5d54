"""The percolation figure's re-simulation (diffcomp.sweeps.resimulation): its settings are the
percolation task's config, and its numbers are known on grids small enough to reason about: bumps so
wide that every pair connects, so narrow that none does, the continuum overlap of wide bumps."""

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from diffcomp.config.paths import CONFIG_DIR
from diffcomp.sweeps.resimulation import (
    DRAWN_THRESHOLDS,
    MAIN_THRESHOLD,
    TASK_CONFIG,
    Settings,
    fractions_for,
    grid_points,
    lambda_half_labels,
    mean_at,
    neighbour_overlap,
    simulate,
    task_settings,
)


def test_the_settings_are_the_percolation_tasks():
    task = OmegaConf.load(CONFIG_DIR / "task" / "percolation.yaml")
    settings = task_settings()
    assert TASK_CONFIG == CONFIG_DIR / "task" / "percolation.yaml"
    assert settings.seeds == tuple(task.seeds)
    assert settings.level == task.level
    assert settings.normalization == task.normalization
    assert set(settings.thresholds) <= {float(t) for t in task.thresholds}
    assert settings.thresholds == DRAWN_THRESHOLDS and settings.main == MAIN_THRESHOLD == 0.005  # Fig. 6c


def test_a_changed_task_config_changes_the_settings_and_a_dropped_threshold_is_an_error(tmp_path):
    task = OmegaConf.load(TASK_CONFIG)
    task.level, task.seeds, task.normalization = 0.7, [3, 4], "self"
    OmegaConf.save(task, tmp_path / "changed.yaml")
    changed = task_settings(tmp_path / "changed.yaml")
    assert (changed.level, changed.seeds, changed.normalization) == (0.7, (3, 4), "self")
    task.thresholds = [t for t in task.thresholds if t != 0.05]
    OmegaConf.save(task, tmp_path / "dropped.yaml")
    with pytest.raises(ValueError, match="0.05"):
        task_settings(tmp_path / "dropped.yaml")


def test_the_trained_grid_and_the_simulated_fractions():
    assert grid_points(32, 1.0) == 1024 and grid_points(16, 1.0) == 256 and grid_points(16, 2.0) == 64
    # 4 labels: a fraction must keep at least one, so 0.1 is dropped; trained lambdas join the grid
    assert fractions_for([0.1, 0.3], 4, fine=0.25) == [0.25, 0.3, 0.5, 0.75, 1.0]


def test_wide_bumps_form_one_cluster_and_narrow_ones_none():
    settings = Settings(thresholds=(0.001, 0.05), main=0.05, seeds=(0, 1), level=0.5, normalization="sqrt")
    sim = simulate([2.0, 0.1], [1.0], [7], size=4, step=1.0, settings=settings)
    assert sim["seeds"] == [0, 1, 7] and sim["points"] == 16  # the trained seed beside the task's
    assert sim["ratios"].shape == (2, 2, len(sim["fractions"]), 3)
    assert np.all(sim["ratios"][:, 0] == 1.0)  # sigma 2: every kept bump overlaps every other
    assert np.allclose(sim["ratios"][:, 1, -1], 1 / 16)  # sigma 0.1: 16 isolated bumps at lambda = 1
    assert lambda_half_labels(sim, 0) == [f"<= {sim['fractions'][0]:g}"] * 2
    assert lambda_half_labels(sim, 1) == ["never", "never"]


def test_the_trained_subsets_ratio_is_the_mean_over_their_own_seeds():
    ratios = np.array([[[[0.2, 0.4, 0.9], [1.0, 1.0, 1.0]]]])  # [threshold, sigma, fraction, seed]
    sim = {"fractions": np.array([0.5, 1.0]), "seeds": [0, 1, 7], "ratios": ratios}
    assert mean_at(sim, 0, 0, 0.5, [0, 7]) == pytest.approx(0.55)
    assert mean_at(sim, 0, 0, 0.49, [1]) == pytest.approx(0.4)  # the nearest simulated lambda
    assert math.isnan(mean_at(sim, 0, 0, 0.5, [5]))


def test_lambda_half_is_where_the_seed_mean_reaches_the_level():
    settings = Settings(thresholds=(0.005,), main=0.005, seeds=(0,), level=0.5, normalization="sqrt")
    # seed means 0, 0.25, 0.75, 1 at lambda 0.25 .. 1: one half is crossed at 0.625
    ratios = np.array([[[[0.0, 0.0], [0.0, 0.5], [0.5, 1.0], [1.0, 1.0]]]])
    sim = {"fractions": np.array([0.25, 0.5, 0.75, 1.0]), "ratios": ratios, "settings": settings}
    assert lambda_half_labels(sim, 0) == ["0.625"]


def test_the_neighbour_overlap_of_wide_bumps_is_the_continuum_one():
    # appendix A.5's overlap is exp(-r^2 / 16 sigma^2) for bumps wide against a pixel
    sqrt = Settings(thresholds=(0.005,), main=0.005, seeds=(0,), level=0.5, normalization="sqrt")
    assert neighbour_overlap(2.0, 32, 1.0, sqrt) == pytest.approx(math.exp(-1 / 64), abs=1e-6)
    assert neighbour_overlap(3.0, 32, 2.0, sqrt) == pytest.approx(math.exp(-4 / 144), abs=1e-6)
