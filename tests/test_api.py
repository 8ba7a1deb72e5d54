"""The notebook API round trip: render, build, load a finished run, sample, score."""

import pytest
from support import TINY, compose_config

import diffcomp.api as dc


def test_render_and_score_ground_truth():
    labels = [[3, 4], [10, 12], [16, 1]]
    assert dc.score(dc.render_images(labels, size=16), labels)["eval/acc"] == 1.0


def test_build_dataset_counts_and_range():
    data = dc.build_dataset(size=16, sigma=1.0, increment=0.5)
    assert data.train_images.shape == (1024, 1, 16, 16)
    assert data.train_images.min() >= -1 and data.train_images.max() <= 1


def test_load_a_finished_run_and_sample_from_it(tmp_path):
    from hydra.core.hydra_config import HydraConfig  # noqa: F401 - the API must work without Hydra running
    from omegaconf import OmegaConf

    from diffcomp.tasks import run_job

    cfg = compose_config(TINY)
    run_job(cfg, out_dir=tmp_path)
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / ".hydra" / "config.yaml")  # what Hydra writes for a CLI run
    run = dc.load_run(tmp_path, device="cpu")
    images, acts = run.sample([[2, 2], [6, 4]], steps=3, layer="down3")
    assert images.shape == (2, 8, 8) and acts.shape[0] == 2
    assert set(dc.score(images, [[2, 2], [6, 4]])) >= {"eval/acc", "eval/acc_x", "eval/acc_y"}
    assert run.metrics["eval/acc"] >= 0


def test_load_run_explains_a_wrong_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a run directory"):
        dc.load_run(tmp_path)


def test_standalone_analysis_of_a_finished_run_updates_its_record(tmp_path):
    import json

    from omegaconf import OmegaConf

    from diffcomp.cli.analyze import main as analyse
    from diffcomp.tasks import run_job

    cfg = compose_config([*TINY, "analysis=none"])
    run_job(cfg, out_dir=tmp_path)
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / ".hydra" / "config.yaml")
    assert "analysis" not in json.loads((tmp_path / "results.json").read_text())
    analyse([str(tmp_path), "--steps", "3", "--no-umap"])
    record = json.loads((tmp_path / "results.json").read_text())
    # the run's own probed layer: eval.probe_layer=auto, the 4x4 map, is down1 on the 8x8 canvas
    assert record["status"] == "complete" and record["analysis"]["layer"] == "down1"
    assert record["analysis"]["repr/participation_ratio"] >= 1.0
    assert (tmp_path / "analysis" / "final" / "pca_spectrum.png").exists()


def test_a_finished_run_re_evaluates_with_another_sampler(tmp_path):
    from omegaconf import OmegaConf

    from diffcomp.tasks import run_job

    cfg = compose_config([*TINY, "analysis=none"])
    run_job(cfg, out_dir=tmp_path)
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / ".hydra" / "config.yaml")
    run = dc.load_run(tmp_path, device="cpu")
    again = run.evaluate(sampler="ddim", steps=2, clip_x0=True)  # the run's own sampler and seed
    assert again["eval/acc"] == pytest.approx(run.metrics["eval/acc"])
    assert 0.0 <= run.evaluate(sampler="ddim", steps=2, clip_x0=False)["eval/acc"] <= 1.0
    assert run.module.hparams.clip_x0 is True  # restored after the unclipped evaluation
