"""The figure scripts' shared pieces (diffcomp.sweeps.figure_support) against known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from diffcomp.sweeps import figure_support as fs

# An 8 x 8 canvas at d = 1 with the cross x in [3, 5] or y in [3, 5] held out (sigma 0.3: the cross
# may be no narrower than a stripe, 6 sigma).
CROSS = {
    "data": {
        "name": "bump",
        "size": 8,
        "increment": 1.0,
        "sigma": 0.3,
        "holdout": {"type": "cross", "width": 2, "center": 4},
    },
    "eval": {"grid_size": 5},
}


def test_scale_is_read_from_multirun_yaml_else_records_else_default(tmp_path):
    assert fs.scale_of(tmp_path) == "?"
    assert fs.scale_of(tmp_path, default="unknown") == "unknown"
    job = tmp_path / "job"
    job.mkdir()
    (job / "results.json").write_text(json.dumps({"status": "complete", "overrides": ["scale=paper", "seed=1"]}))
    assert fs.scale_of(tmp_path) == "?"  # records only when asked
    assert fs.scale_of(tmp_path, from_records=True) == "paper"
    (tmp_path / "multirun.yaml").write_text("hydra:\n  runtime:\n    choices:\n      scale: cpu\n")
    assert fs.scale_of(tmp_path) == "cpu"
    assert fs.scale_of(tmp_path, from_records=True) == "cpu"  # the multirun file wins


def test_statistics_of_known_values():
    assert fs.number(2) == 2.0 and math.isnan(fs.number(None)) and math.isnan(fs.number(True))
    assert fs.stats([1.0, 2, 3.0, None, math.nan, "x"]) == (2.0, 1.0, 3)
    mean, sd, n = fs.stats([5.0])
    assert (mean, n) == (5.0, 1) and math.isnan(sd)
    assert fs.stats_text(fs.stats([1.0, 2.0, 3.0])) == "2.000 ± 1.000 (3)"
    assert fs.stats_text(fs.stats([0.25])) == "0.250 (1)"
    assert fs.stats_text(fs.stats([None])) == "-"
    mean, err = fs.error_bars([[1.0, 3.0], [2.0], []])
    assert mean[:2].tolist() == [2.0, 2.0] and math.isnan(mean[2])
    assert err.tolist() == pytest.approx([math.sqrt(2), 0.0, 0.0])
    assert fs.range_text([0.5, 0.7, None, 0.9]) == "0.70 (0.50-0.90, n=3)"
    assert fs.range_text([0.5]) == "0.50" and fs.range_text([]) == "-"
    assert fs.count_range_text([3, 3]) == "3" and fs.count_range_text([2, 3, 3]) == "2-3"
    assert fs.number_text(0.12345) == "0.123" and fs.number_text(math.nan) == "–"
    assert fs.number_text(None, ".2f", missing="-") == "-"
    assert fs.percent_text(0.125) == "12.5%" and fs.percent_text(None) == "-"


def test_first_crossing_interpolates_between_evaluations():
    steps, values = np.array([0.0, 10.0, 20.0]), np.array([0.0, 0.4, 0.8])
    assert fs.first_crossing(steps, values, 0.6) == (15.0, 10, 20)
    assert fs.first_crossing(steps, values, 0.0) == (0.0, None, 0)  # reached at the first evaluation
    assert fs.first_crossing(steps, values, 0.9) is None
    assert fs.first_crossing(steps, values, 0.6, start=15) == (15.0, 10, 20)
    assert fs.first_crossing(steps, values, 0.3, start=15) == (10.0, 10, 20)  # clipped to the bracketing evaluations


def test_history_series_by_step():
    history = fs.by_step([{"step": 20, "eval/acc": 0.5}, {"step": 10, "eval/acc": None}, {"step": 10, "eval/acc": 0.1}])
    steps, values = fs.series(history, "eval/acc")
    assert steps.tolist() == [10.0, 20.0] and values.tolist() == [0.1, 0.5]
    assert [len(a) for a in fs.series(history, "eval/loss")] == [0, 0]


def test_tile_labels_follow_the_evaluation_callbacks_picks():
    # linspace(0, 63, 5) = 0, 15.75, 31.5, 47.25, 63 -> tiles 0, 16, 32, 47, 63 (mu_x fastest)
    assert fs.tile_picks(64, 5).tolist() == [0, 16, 32, 47, 63]
    assert fs.grid_count(CROSS) == 5
    labels, sections = fs.tile_labels(CROSS, 5)
    assert labels.tolist() == [[1, 1], [1, 3], [1, 5], [8, 6], [8, 8]]
    assert sections["horizontal"].tolist() == [False, True, True, False, False]  # mu_y in the cut only
    assert sections["id"].tolist() == [True, False, False, True, True]
    assert fs.tile_labels({}, 5) is None and fs.tile_labels({"data": {"size": 3}}, 5) is None


def test_held_out_membership_of_a_cross():
    inside = fs.held_out_labels(CROSS)
    x, y = np.arange(64) % 8 + 1, np.arange(64) // 8 + 1
    assert inside.tolist() == (((x >= 3) & (x <= 5)) | ((y >= 3) & (y <= 5))).tolist()
    assert int(inside.sum()) == 64 - 5 * 5
    assert fs.section_sizes(CROSS) == {
        "all": 64,
        "id": 25,
        "ood": 39,
        "vertical": 15,
        "horizontal": 15,
        "intersection": 9,
    }
    assert fs.held_out_labels({"data": {**CROSS["data"], "holdout": None}}) is None


def test_tiles_cut_from_a_saved_grid_are_the_rendered_images(tmp_path):
    from matplotlib.image import imsave

    from diffcomp.data.render import image_grid

    images = torch.stack([torch.full((8, 8), 20.0 * (i + 1)) for i in range(10)])
    grid = image_grid(images).numpy()  # 8 per row, 1-pixel grey gutters, as the evaluation saves it
    assert grid.shape == fs.grid_shape(8, 10)
    (tmp_path / "samples").mkdir()
    for step in (5, 40):
        imsave(tmp_path / "samples" / f"step_{step:07d}.png", grid, cmap="gray", vmin=0, vmax=255)
    path = fs.last_samples(tmp_path)
    assert path.name == "step_0000040.png"
    tiles = fs.read_tiles(path, 8, 10)
    assert [float(t.mean()) * 255 for t in tiles] == pytest.approx([20 * (i + 1) for i in range(10)], abs=1.5)
    assert all(float(t.std()) == 0 for t in tiles)  # no gutter pixel inside a tile
    assert fs.tile_origin(9, 8) == (9, 9)
    assert len(fs.read_tiles(path, 8, 20)) == 16  # a grid holding fewer tiles than asked: what is there
