"""The figure scripts' kit (diffcomp.report) against known answers: summaries over seeds, tables,
histories, the saved sample arrays and the rows figures draw from records."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from diffcomp.report import history, mixture, numbers, samples, sections, tables


def write_record(job_dir, **fields):
    job_dir.mkdir(parents=True, exist_ok=True)
    record = {"schema": 2, "status": "complete", "params": {}, "metrics": {}, **fields}
    (job_dir / "results.json").write_text(json.dumps(record))
    return job_dir


def test_scale_is_read_from_multirun_yaml_else_records_else_default(tmp_path):
    assert history.scale_of(tmp_path) == "?"
    assert history.scale_of(tmp_path, default="unknown") == "unknown"
    write_record(tmp_path / "job", params={"scale": "paper", "seed": 1})
    assert history.scale_of(tmp_path) == "?"  # records only when asked
    assert history.scale_of(tmp_path, from_records=True) == "paper"
    (tmp_path / "multirun.yaml").write_text("hydra:\n  runtime:\n    choices:\n      scale: cpu\n")
    assert history.scale_of(tmp_path) == "cpu"
    assert history.scale_of(tmp_path, from_records=True) == "cpu"  # the multirun file wins


def test_statistics_of_known_values():
    assert numbers.number(2) == 2.0 and math.isnan(numbers.number(None)) and math.isnan(numbers.number(True))
    assert numbers.stats([1.0, 2, 3.0, None, math.nan, "x"]) == (2.0, 1.0, 3)
    mean, sd, n = numbers.stats([5.0])
    assert (mean, n) == (5.0, 1) and math.isnan(sd)
    assert numbers.stats_text(numbers.stats([1.0, 2.0, 3.0])) == "2.000 ± 1.000 (3)"
    assert numbers.stats_text(numbers.stats([0.25])) == "0.250 (1)"
    assert numbers.stats_text(numbers.stats([None])) == "-"
    mean, err = numbers.error_bars([[1.0, 3.0], [2.0], []])
    assert mean[:2].tolist() == [2.0, 2.0] and math.isnan(mean[2])
    assert err.tolist() == pytest.approx([math.sqrt(2), 0.0, 0.0])
    assert numbers.range_text([0.5, 0.7, None, 0.9]) == "0.70 (0.50-0.90, n=3)"
    assert numbers.range_text([0.5]) == "0.50" and numbers.range_text([]) == "-"
    assert numbers.count_range_text([3, 3]) == "3" and numbers.count_range_text([2, 3, 3]) == "2-3"
    assert numbers.number_text(0.12345) == "0.123" and numbers.number_text(math.nan) == "–"
    assert numbers.number_text(None, ".2f", missing="-") == "-"
    assert numbers.percent_text(0.125) == "12.5%" and numbers.percent_text(None) == "-"


def test_mixed_sort_key_puts_numbers_first_in_order():
    assert sorted(["x", 3, 1.5, None], key=numbers.mixed_sort_key) == [1.5, 3, None, "x"]


def test_markdown_tables_have_one_rule_and_a_row_per_row(tmp_path):
    lines = tables.markdown_table(["a", "b"], [[1, "x"], [2.5, None]])
    assert lines == ["| a | b |", "| --- | --- |", "| 1 | x |", "| 2.5 | None |"]
    path = tables.write_lines(tmp_path / "deep" / "t.md", lines)
    assert path.read_text() == "\n".join(lines) + "\n"


def test_history_series_by_step():
    entries = history.by_step(
        [{"step": 20, "eval/acc": 0.5}, {"step": 10, "eval/acc": None}, {"step": 10, "eval/acc": 0.1}]
    )
    steps, values = history.series(entries, "eval/acc")
    assert steps.tolist() == [10.0, 20.0] and values.tolist() == [0.1, 0.5]
    assert [len(a) for a in history.series(entries, "eval/loss")] == [0, 0]


def save_tiles(job_dir, step, images, labels, **masks):
    (job_dir / "samples").mkdir(parents=True, exist_ok=True)
    arrays = {"images": images, "labels": labels, "index": np.arange(len(images))}
    arrays.update({f"section_{k}": v for k, v in masks.items()})
    np.savez(job_dir / "samples" / f"step_{step:07d}.npz", **arrays)


def test_the_last_saved_tiles_are_read_with_their_labels_and_sections(tmp_path):
    images = np.stack([np.full((8, 8), 20 * (i + 1), np.uint8) for i in range(10)])
    labels = np.stack([np.arange(10) + 1.0, np.ones(10)], axis=1).astype(np.float32)
    ood = np.arange(10) % 3 == 0
    save_tiles(tmp_path, 5, images[:2], labels[:2])
    save_tiles(tmp_path, 40, images, labels, ood=ood, id=~ood)
    assert samples.has_tiles(tmp_path) and not samples.has_tiles(tmp_path / "none")
    tiles = samples.last_tiles(tmp_path)
    assert tiles.step == 40 and len(tiles) == 10 and tiles.size == 8
    assert tiles.labels[3].tolist() == [4.0, 1.0]
    assert tiles.sections["ood"].tolist() == ood.tolist()
    grid = tiles.grid()  # 8 per row, 1-pixel gutters, in [0, 1]: the evaluation PNG's layout
    assert grid.shape == (2 * 9, 8 * 9)
    y, x = tiles.tile_origin(9)
    assert (y, x) == (9, 9) and grid[y : y + 8, x : x + 8] == pytest.approx(200 / 255)
    assert samples.grid_aspect(tmp_path) == pytest.approx(18 / 72)


def test_unreadable_or_missing_tiles_are_none(tmp_path):
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "step_0000001.npz").write_bytes(b"not a zip")
    assert samples.last_tiles(tmp_path) is None
    assert samples.last_tiles(tmp_path / "missing") is None


def test_choose_tiles_shares_picks_over_sections():
    masks = {"id": np.array([1, 1, 1, 0, 0, 0], bool), "ood": np.array([0, 0, 0, 1, 1, 1], bool)}
    picks = samples.choose_tiles(6, masks, ("id", "ood"), 4)
    assert [s for _, s in picks] == ["id", "id", "ood", "ood"]
    assert [i for i, _ in picks] == [0, 2, 3, 5]
    assert samples.choose_tiles(5, None, ("id",), 3) == [(0, ""), (2, ""), (4, "")]


def test_section_sizes_are_the_evaluations_counts(tmp_path):
    from diffcomp.results import load_records

    metrics = {"eval/id/n": 25, "eval/ood/n": 39, "eval/vertical/n": 15, "eval/train/n": 128, "eval/train/2d/n": 9}
    write_record(tmp_path / "a", data={"size": 8}, metrics=metrics)
    (record,) = load_records(tmp_path)
    assert sections.section_sizes(record) == {"all": 64, "id": 25, "ood": 39, "vertical": 15}


def test_held_out_rows_read_the_resolved_region(tmp_path):
    holdout = {"type": "band", "x_range": [13, 19], "y_range": [13, 19], "parts": ["2d"], "width": 6.0}
    data = {"name": "sos", "kind": "sos", "size": 32, "holdout": holdout, "images": 900, "held_out_2d_fraction": 0.2}
    write_record(tmp_path / "a", seed=3, data=data, metrics={"eval/acc": 0.5}, config={"data": {"holdout": {}}})
    write_record(tmp_path / "b", seed=1, data={**data, "holdout": None}, metrics={"eval/acc": 0.5})
    (row,) = sections.held_out_runs(tmp_path, "band")
    assert (row["width"], row["seed"], row["data"], row["place"], row["images"]) == (6.0, 3, "sos", "interior", 900)
    assert sections.held_out_runs(tmp_path, "square") == []


def test_runs_by_model_groups_by_dataset_name_in_seed_order(tmp_path):
    for seed, name in ((2, "sos"), (0, "sos"), (1, "stripes")):
        write_record(tmp_path / f"{name}{seed}", seed=seed, data={"name": name})
    groups = sections.runs_by_model(tmp_path)
    assert {k: [r.seed for r in v] for k, v in groups.items()} == {"sos": [0, 2], "stripes": [1]}
    assert sections.ordered(groups, {"stripes": "", "sos": ""}) == ["stripes", "sos"]


def test_mixture_rows_take_the_shares_from_the_resolved_parts(tmp_path):
    parts = [{"kind": "bump", "region": "2d", "fraction": 0.25}, {"kind": "sos", "region": "1d", "fraction": 1.0}]
    write_record(
        tmp_path / "a", seed=1, data={"size": 16, "parts": parts, "images": 90, "2d": 60}, metrics={"eval/acc": 0.4}
    )
    single = [{"kind": "bump", "region": "all", "fraction": 1.0}]
    write_record(tmp_path / "b", seed=0, data={"size": 16, "parts": single, "images": 256}, metrics={})
    table = mixture.mixture_runs_table(tmp_path).set_index("seed")
    assert table.loc[1, ["N", "f2d", "stripes", "n2d"]].tolist() == [16, 0.25, 1.0, 60]
    assert table.loc[0, ["f2d", "stripes", "n2d"]].tolist() == [1.0, 0.0, 0]
    assert mixture.arm_name(0) == "2D only" and mixture.arm_name(1) == "2D + 1D stripes"
    assert mixture.arm_name(0.5) == "2D + 50% of the 1D stripes"


def test_job_history_reads_a_record(tmp_path):
    from diffcomp.results import load_records

    history_rows = [{"step": 0, "eval/acc": 0.1}, {"step": 100, "eval/acc": 0.9}]
    write_record(tmp_path / "a", seed=4, data={"images": 12}, history=history_rows)
    run = history.JobHistory(load_records(tmp_path)[0])
    assert (run.seed, run.images, run.acc(100)) == (4, 12, 0.9)
    assert run.series("eval/acc")[1].tolist() == [0.1, 0.9]
    assert run.arrays(0) is None and run.array_steps() == []
