"""Faults a user whose sweeps run for days meets (issue 23), each reproduced: a diverging job among
healthy ones, two launches on one sweep directory, a truncated checkpoint, a job resumed at its last
step, an unreachable tracker, and a checkpoint whose unpickling would run code. (kill -9 and stale
status: tests/test_status.py.)"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from support import TINY, compose_config

from diffcomp.checkpointing import resume_point
from diffcomp.train import run

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "MPLBACKEND": "Agg"}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "diffcomp.run", *args]


def records(sweep_dir: Path) -> dict[str, dict]:
    import json

    return {(r := json.loads(p.read_text()))["overrides"][-1]: r for p in Path(sweep_dir).glob("*/results.json")}


# --------------------------------------------------------------------------------------------- divergence
def test_a_diverging_job_among_healthy_ones_is_a_failure_kept_out_of_every_table(tmp_path):
    # lr=1 blows the tiny model's loss up to ~1e5 while gradient clipping keeps it finite: only the
    # interval-loss guard (above the zero-noise loss 1) can tell
    sweep = tmp_path / "sweep"
    args = [*TINY, "logger=none", "train.steps=200", "train.divergence.after_steps=50", "train.lr=1,0.003"]
    done = subprocess.run(
        cli("-m", *args, f"hydra.sweep.dir={sweep}"), capture_output=True, text=True, env=ENV, cwd=REPO
    )
    assert done.returncode != 0 and "1 of 2 jobs failed (the others completed)" in done.stderr
    found = records(sweep)
    assert found["train.lr=0.003"]["status"] == "complete"
    failed = found["train.lr=1"]
    assert failed["status"] == "failed" and "> train.divergence.max_loss=1" in failed["error"]
    assert "metrics" not in failed or not failed.get("metrics")  # no number of a blown-up model is kept
    table = pd.read_csv(sweep / "aggregate" / "results.csv")
    row = table[table["train.lr"] == 1.0].iloc[0]
    assert row["status"] == "failed" and pd.isna(row.get("eval/acc"))
    assert "FAILED (1" in (sweep / "aggregate" / "summary.txt").read_text()


# --------------------------------------------------------------------------------------------- two launches
def test_two_launches_on_one_sweep_directory_train_each_job_once(tmp_path):
    sweep = tmp_path / "sweep"
    args = cli("-m", *TINY, "logger=none", "train.steps=150", "seed=0,1", f"hydra.sweep.dir={sweep}")
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    statuses = {name: r["status"] for name, r in records(sweep).items()}
    assert statuses == {"seed=0": "complete", "seed=1": "complete"}, outputs
    trained = sum(out.count("[complete]") for out, _ in outputs)
    said = [line for out, _ in outputs for line in out.splitlines()]
    passed = sum(line.startswith(("skipped: owned by", "already complete (delete")) for line in said)
    assert trained == 2, outputs  # each job trained by exactly one of the two processes
    assert passed == 2, said  # and the other one said it left the job alone
    assert not any("truncated" in err or "Traceback" in err for _, err in outputs), outputs


# --------------------------------------------------------------------------------------------- checkpoints
def test_a_truncated_last_checkpoint_falls_back_and_the_record_says_so(tmp_path):
    first = run(compose_config([*TINY, "logger=none", "train.steps=4"]), tmp_path)
    last = Path(first["checkpoint"])
    last.write_bytes(last.read_bytes()[:200])  # cut short, as by a full disk or a copy
    again = run(compose_config([*TINY, "logger=none", "train.steps=8"]), tmp_path)
    fallback = again["resumed_from"]["fallback"]
    assert "last.ckpt will not load" in fallback and (last.parent / "last.ckpt.corrupt").exists()
    assert again["timings"]["train_steps"] == 8 and again["metrics"]["eval/acc"] >= 0


def test_resume_point_prefers_last_then_previous_then_step_zero(tmp_path):
    last, previous = tmp_path / "last.ckpt", tmp_path / "previous.ckpt"
    assert resume_point(last) == (None, None)
    torch.save({"global_step": 2}, previous)
    torch.save({"global_step": 4}, last)
    assert resume_point(last) == (last, None)
    last.write_bytes(b"garbage, not a checkpoint")
    chosen, why = resume_point(last)
    assert chosen == previous and "last.ckpt will not load" in why
    previous.write_bytes(b"")
    torch.save({"global_step": 4}, last)
    last.write_bytes(last.read_bytes()[:10])
    chosen, why = resume_point(last)
    assert chosen is None and "last.ckpt will not load" in why and "previous.ckpt will not load" in why


def test_a_job_resumed_at_its_last_step_keeps_its_training_fields(tmp_path):
    cfg = compose_config([*TINY, "logger=none", "train.steps=6"])
    trained = run(cfg, tmp_path)
    again = run(cfg, tmp_path)  # e.g. killed during the final evaluation: nothing is left to train
    assert again["resumed_from"]["step"] == 6
    assert again["metrics"]["train/final_loss"] == pytest.approx(trained["metrics"]["train/final_loss"])
    # the training time of the first process, carried by the checkpoint (this one trained for ~0 s)
    assert again["timings"]["train_seconds"] == pytest.approx(trained["timings"]["train_seconds"], rel=0.2)
    assert again["timings"]["train_images_per_second"] == pytest.approx(
        trained["timings"]["train_images_per_second"], rel=0.2
    )


def test_a_job_resumed_at_its_last_step_after_a_cadence_evaluation_keeps_its_metrics(tmp_path):
    # the cadence evaluated the last step before the kill, so the restored history holds it: the
    # resumed process must still produce the final metrics, not an empty record
    cfg = compose_config([*TINY, "logger=none", "train.steps=6", "eval.every_n_steps=3"])
    trained = run(cfg, tmp_path)
    assert trained["history"][-1]["step"] == 6
    again = run(cfg, tmp_path)
    assert again["resumed_from"]["step"] == 6
    assert again["metrics"]["eval/acc"] == pytest.approx(trained["metrics"]["eval/acc"])
    assert again["metrics"]["eval/train_score"] == pytest.approx(trained["metrics"]["eval/train_score"])


class _RunsCode:
    """An object whose unpickling writes a file: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_checkpoints_and_weights_load_without_running_pickled_code(tmp_path):
    from omegaconf import OmegaConf

    from diffcomp.runs import load_run

    cfg = compose_config([*TINY, "logger=none", "train.steps=4"])
    finished = run(cfg, tmp_path)
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / ".hydra" / "config.yaml")  # what Hydra writes beside a run
    marker = tmp_path / "marker"
    weights = tmp_path / "model.pt"
    torch.save({"hostile": _RunsCode(marker)}, weights, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(pickle.UnpicklingError):
        load_run(tmp_path)
    last = Path(finished["checkpoint"])
    state = torch.load(last, weights_only=True)
    state["hostile"] = _RunsCode(marker)
    torch.save(state, last)
    resumed = run(compose_config([*TINY, "logger=none", "train.steps=8"]), tmp_path)
    assert not marker.exists()  # never unpickled: set aside like a broken file, and the job goes on
    assert "last.ckpt will not load (UnpicklingError: Weights only load failed" in resumed["resumed_from"]["fallback"]


# --------------------------------------------------------------------------------------------- tracker
def test_an_unreachable_tracker_leaves_the_job_logging_offline_with_one_warning(tmp_path):
    env = {
        **ENV,
        "WANDB_MODE": "online",
        "WANDB_API_KEY": "a" * 40,
        "WANDB_BASE_URL": "http://127.0.0.1:9",  # the discard port: nothing answers
    }
    started = time.perf_counter()
    done = subprocess.run(
        cli(*TINY, "logger=wandb", "logger.init_timeout=5", f"hydra.run.dir={tmp_path}"),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert output.count("W&B is unreachable") == 1 and "wandb sync" in output
    assert list((tmp_path / "wandb").glob("offline-run-*")), "the run was logged offline"
    assert seconds < 90  # not wandb's default 90 s wait plus the job
