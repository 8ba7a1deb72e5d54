"""A tiny run through the real task: train, sample, evaluate, and write a complete record."""

import json

import pytest
from support import compose_config

from diffcomp.results import RECORD_NAME
from diffcomp.tasks import run_job


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from support import TINY

    out = tmp_path_factory.mktemp("run")
    record = run_job(compose_config(TINY), out_dir=out)
    return out, record


def test_tiny_run_writes_a_complete_record(finished_run):
    out, record = finished_run
    on_disk = json.loads((out / RECORD_NAME).read_text())
    assert on_disk["status"] == "complete"
    for key in (
        "eval/acc",
        "eval/acc_x",
        "eval/acc_y",
        "eval/frac_no_feature",
        "eval/frac_one_feature",
        "eval/frac_several_features",
    ):
        assert 0.0 <= on_disk["metrics"][key] <= 1.0
    assert on_disk["metrics"]["train/final_loss"] > 0  # the mean training loss of the last interval
    assert on_disk["metrics"]["eval/loss"] > 0  # held-out denoising loss at the evaluation labels
    # its own training distribution: all 16 training labels (fewer than eval.train_samples), 2D bumps
    assert on_disk["metrics"]["eval/train/n"] == on_disk["metrics"]["eval/train/2d/n"] == 16
    assert 0.0 <= on_disk["metrics"]["eval/train_score"] == on_disk["metrics"]["eval/train/2d/acc"] <= 1.0
    assert on_disk["timings"]["train_steps"] == 4
    assert on_disk["timings"]["train_images_per_second"] > 0 and on_disk["timings"]["sample_seconds"] > 0
    assert on_disk["config"]["data"]["size"] == 8 and on_disk["seed"] == 0
    assert on_disk["versions"]["torch"] and on_disk["device"].startswith("cpu")
    # schema 2: the dataset resolved per axis, the budget in its own section, the seed once
    assert on_disk["schema"] == 2 and "dataset" not in on_disk
    data = on_disk["data"]
    assert (data["name"], data["kind"], data["size"], data["images"], data["2d"]) == ("bump", "bump", 8, 16, 16)
    assert (data["sigma_x"], data["sigma_y"], data["increment_x"], data["increment_y"]) == (1.0, 1.0, 2.0, 2.0)
    assert data["fraction"] == 1.0 and data["holdout"] is None
    assert on_disk["budget"] == {"max_steps": 4, "max_epochs": -1, "steps": 4, "loss_window": 1}
    gate = on_disk["gate"]  # the validity gate: the default level on its own training labels
    assert (gate["metric"], gate["threshold"]) == ("eval/train_score", 0.9)
    assert gate["value"] == on_disk["metrics"]["eval/train_score"] and gate["passed"] == (gate["value"] >= 0.9)
    assert (out / "checkpoints" / "last.ckpt").exists() and (out / "model.pt").exists()
    assert (out / "dataset.png").exists()
    assert on_disk["metrics"]["repr/participation_ratio"] >= 1.0 and "repr/probe_r2_x" in on_disk["metrics"]
    assert list((out / "analysis").glob("step_*/pca_spectrum.png"))
    assert list((out / "samples").glob("step_*.png"))


def test_rerun_of_a_finished_run_is_skipped(finished_run):
    out, record = finished_run
    before = (out / RECORD_NAME).stat().st_mtime_ns
    again = run_job(compose_config(__import__("support").TINY), out_dir=out)
    assert again["finished"] == record["finished"]
    assert (out / RECORD_NAME).stat().st_mtime_ns == before


def test_failed_single_run_records_the_error_and_reraises(tmp_path, tiny_overrides):
    cfg = compose_config([*tiny_overrides, "train.lr=1e30"])  # the loss explodes to inf/nan
    with pytest.raises(FloatingPointError):
        run_job(cfg, out_dir=tmp_path)
    record = json.loads((tmp_path / RECORD_NAME).read_text())
    assert record["status"] == "failed" and "Diverged: training loss became" in record["error"]


def test_evaluation_at_start_and_at_a_cadence_in_steps(tmp_path, tiny_overrides):
    cfg = compose_config(
        [*tiny_overrides, "train.steps=6", "eval.every_n_steps=2", "eval.at_start=true", "analysis=none"]
    )
    record = run_job(cfg, out_dir=tmp_path)
    assert [h["step"] for h in record["history"]] == [0, 2, 4, 6]  # the final one is the cadence's, not repeated
    assert "train/interval_loss" not in record["history"][0]  # nothing trained yet at step 0
    assert all(h["train/interval_loss"] > 0 and h["eval/loss"] > 0 for h in record["history"][1:])
    assert all("eval/train_score" in h for h in record["history"])  # every evaluation scores its training labels
    assert record["metrics"]["train/final_loss"] == record["history"][-1]["train/interval_loss"]


def test_the_record_is_readable_by_the_users_group(finished_run):
    import stat

    out, _ = finished_run
    assert (out / RECORD_NAME).stat().st_mode & stat.S_IRGRP
