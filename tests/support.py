"""Helpers shared by the tests: config composition and a tiny run's overrides.

(A module of its own, not conftest.py: test folders have their own conftest modules, and
``from conftest import ...`` would pick whichever was imported first.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = str(REPO / "conf")

# The experiments of the papers: every conf/experiment/ entry but the quick default and the paper runs.
NOT_EXPERIMENTS = ("quick", "paper", "paper_fast")
EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml") if p.stem not in NOT_EXPERIMENTS)

# A model and dataset small enough that a full train-sample-evaluate run takes seconds on a CPU.
TINY = [
    "data.size=8",
    "data.increment=2",
    "model.channels=[8,8,8,8]",
    "model.bottleneck=8",
    "model.encoding_dim=8",
    "train.steps=4",
    "train.batch_size=8",
    "train.warmup_steps=1",
    "eval.sampler=ddim",
    "eval.steps=2",
    "eval.grid_size=4",
    "analysis.umap=false",
    "logger=csv",
    "trainer.enable_progress_bar=false",
]


def compose_config(overrides=(), return_hydra_config: bool = False):
    """Compose ``conf/config.yaml`` with ``overrides`` (no Hydra app needed)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=return_hydra_config)


def run_diffcomp(*args, env_extra: dict | None = None, timeout: float = 300, **kwargs):
    """``python -m diffcomp.run <args>`` from the repository, W&B disabled, headless plots; output captured."""
    env = {**os.environ, "WANDB_MODE": "disabled", "MPLBACKEND": "Agg", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "diffcomp.run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
        **kwargs,
    )
