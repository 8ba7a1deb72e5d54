"""Every experiment of the papers runs end to end at scale=smoke: its sweep completes, every job
leaves a complete record, and the paper's figure and its table of numbers are drawn when it ends
(nothing is claimed from smoke numbers; docs/results.md holds the cpu-scale measurements)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import EXPERIMENTS, REPO

from diffcomp.sweeps.figures import figure_script


def test_every_experiment_has_its_folder_readme_and_figure_script():
    folders = sorted(
        p.name for p in (REPO / "experiments").iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    )
    assert folders == EXPERIMENTS
    for name in EXPERIMENTS:
        readme = (REPO / "experiments" / name / "README.md").read_text()
        assert f"experiment={name}" in readme and "scale=" in readme
        assert callable(getattr(figure_script(name), "draw", None))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_experiment_runs_at_smoke_scale_and_draws_its_figure(name, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    args = [f"experiment={name}", "scale=smoke", f"hydra.sweep.dir={sweep}", "logger=none"]
    done = subprocess.run(
        [sys.executable, "-m", "diffcomp.run", "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    jobs = json.loads((sweep / "jobs.json").read_text())
    records = [json.loads(p.read_text()) for p in sweep.rglob("results.json") if ".submitit" not in p.parts]
    assert len(records) == len(jobs) >= 1
    assert all(r["status"] == "complete" and r["metrics"] for r in records)
    figures = sweep / "figures"
    assert list(figures.glob("*.png")) and (figures / f"{name}.md").read_text().strip(), done.stdout[-2000:]
    assert (sweep / "aggregate" / "results.csv").exists()
