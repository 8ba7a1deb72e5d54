"""W&B: every job of a multirun is its own (offline) run, all jobs of a sweep share a group; tasks
without a Trainer of their own log through the same logger."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wandb_runs(job_dir: Path) -> list[dict]:
    """The offline runs W&B wrote under a job directory, with their run ids and groups."""
    runs = []
    for run_dir in (job_dir / "wandb").glob("offline-run-*"):
        runs.append({"id": run_dir.name.rsplit("-", 1)[-1], "dir": run_dir})
    return runs


def test_each_multirun_job_is_its_own_wandb_run_in_one_group(tmp_path):
    # the theory task has no Trainer of its own: it logs through tasks.log_outcome
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", "WANDB_SILENT": "true"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffcomp.run",
            "-m",
            "task=percolation",
            "task.sigmas=[1.0]",
            "task.seeds=[0]",
            "task.lambdas=[0.5,1.0]",
            "task.thresholds=0.005,0.05",
            "logger=wandb",
            f"hydra.sweep.dir={tmp_path}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and (p / "results.json").exists())
    assert len(jobs) == 2
    ids = []
    for job in jobs:
        runs = wandb_runs(job)
        assert len(runs) == 1, f"{job}: expected one W&B run, found {runs}"
        ids.append(runs[0]["id"])
        record = json.loads((job / "results.json").read_text())
        assert record["status"] == "complete"
    assert len(set(ids)) == 2, "each job must have its own W&B run id"


def test_run_identity_groups_by_sweep_dir_and_is_stable(tmp_path):
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict
    from support import compose_config

    from diffcomp.logging_setup import run_identity

    first, again = run_identity(tmp_path / "job"), run_identity(tmp_path / "job")
    assert first["id"] == again["id"] and first["id"] != run_identity(tmp_path / "other")["id"]
    cfg = compose_config(["data.sigma=0.5"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.sweep.dir = str(tmp_path / "sweep-2026")
        cfg.hydra.job.override_dirname = "data.sigma=0.5"
    HydraConfig.instance().set_config(cfg)
    try:
        ident = run_identity(tmp_path / "sweep-2026" / "data.sigma=0.5")
        other = run_identity(tmp_path / "sweep-2026" / "data.sigma=1.0")
    finally:
        HydraConfig.instance().cfg = None
    assert ident["group"] == other["group"] == "sweep-2026"
    assert ident["name"] == "data.sigma=0.5" and ident["id"] != other["id"]
