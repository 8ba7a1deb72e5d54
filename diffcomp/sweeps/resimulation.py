"""The percolation simulation re-run on a trained percolation sweep's own grid and subsets.

Why: the trained models' accuracy against lambda is evidence for the percolation claim (Sec. 3.3)
only beside the simulation of *the same* training sets, so the figure re-simulates the canvas and
grid the models were trained on. Its settings are the task's (``conf/task/percolation.yaml``: the
overlap's normalization, the level whose crossing is lambda_half, the simulated seeds), read from
that file rather than copied, and it draws a subset of the task's thresholds; so the simulation
table (``lambda_half.md``) and the figure's cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from diffcomp.config.paths import CONFIG_DIR
from diffcomp.theory.overlap import overlap_curve
from diffcomp.theory.percolation import PAPER_FIGURES, crossing_label, mass_ratio_sweep

TASK_CONFIG = CONFIG_DIR / "task" / "percolation.yaml"
MAIN_THRESHOLD = 0.005  # Fig. 6c
DRAWN_THRESHOLDS = (0.001, 0.005, 0.05)  # Fig. 13 (and 14b at 0.05); each must be one of the task's
FINE_STEP = 0.02  # the lambda grid of the drawn curves: finer than the task's, for a smooth lambda_half


@dataclass(frozen=True)
class Settings:
    """What the re-simulation takes from the task: thresholds drawn, seeds, level and overlap."""

    thresholds: tuple[float, ...]
    main: float  # the threshold of the main panel (Fig. 6c) and the table's mass ratio
    seeds: tuple[int, ...]  # simulated beside the trained seeds (the paper averages 5 datasets, D.1)
    level: float  # lambda_half: where the seed-mean mass ratio stays at or above it
    normalization: str


def task_settings(path: Path = TASK_CONFIG) -> Settings:
    """The re-simulation's settings from the percolation task's config; an error when a drawn
    threshold is not among the task's (the two tables would no longer be of the same simulation)."""
    task = OmegaConf.load(path)
    thresholds = [float(t) for t in task.thresholds]
    missing = [t for t in DRAWN_THRESHOLDS if t not in thresholds]
    if missing or MAIN_THRESHOLD not in DRAWN_THRESHOLDS or PAPER_FIGURES.get(MAIN_THRESHOLD) != "Fig. 6c":
        raise ValueError(f"thresholds {missing or [MAIN_THRESHOLD]} drawn by the figure are not the task's ({path})")
    return Settings(
        thresholds=DRAWN_THRESHOLDS,
        main=MAIN_THRESHOLD,
        seeds=tuple(int(s) for s in task.seeds),
        level=float(task.level),
        normalization=str(task.normalization),
    )


def grid_points(size: int, step: float) -> int:
    """Labels of the trained grid ``mu = k * step`` (k >= 1, mu <= size) in both axes."""
    return len(np.arange(step, size + 1e-9, step)) ** 2


def fractions_for(lambdas, points: int, fine: float = FINE_STEP) -> list[float]:
    """The simulated lambdas: a ``fine`` grid up to 1 joined with the trained ones, keeping only those
    that keep at least one of the ``points`` labels."""
    grid = np.round(np.arange(fine, 1.0 + 1e-9, fine), 4)
    joined = np.concatenate([grid, np.asarray(lambdas, float)])
    return sorted({float(f) for f in joined if math.floor(f * points + 1e-9) >= 1})


def simulate(sigmas, lambdas, seeds, size: int, step: float, settings: Settings | None = None) -> dict:
    """Mass ratios [thresholds, sigmas, fractions, seeds] on the trained grid, over the fine lambda
    grid joined with the trained lambdas, for the trained seeds together with the task's seeds."""
    settings = settings or task_settings()
    points = grid_points(size, step)
    fractions = fractions_for(lambdas, points)
    all_seeds = sorted(set(int(s) for s in seeds) | set(settings.seeds))
    ratios = mass_ratio_sweep(
        sigmas, fractions, all_seeds, settings.thresholds, size, step, normalization=settings.normalization
    )
    return {
        "fractions": np.asarray(fractions),
        "seeds": all_seeds,
        "ratios": ratios,
        "points": points,
        "settings": settings,
    }


def mean_at(sim: dict, t: int, s: int, lam: float, seeds) -> float:
    """Mean simulated ratio at one trained lambda over the given seeds (the models' own subsets);
    NaN when none of them was simulated."""
    i = int(np.argmin(np.abs(sim["fractions"] - lam)))
    cols = [sim["seeds"].index(int(seed)) for seed in seeds if int(seed) in sim["seeds"]]
    return float(sim["ratios"][t, s, i, cols].mean()) if cols else math.nan


def lambda_half_labels(sim: dict, s: int) -> list[str]:
    """lambda_half of sigma number ``s`` per drawn threshold, as :func:`crossing_label` writes it."""
    level = sim["settings"].level
    return [
        crossing_label(sim["fractions"], sim["ratios"][t, s].mean(axis=1), level) for t in range(len(sim["ratios"]))
    ]


def neighbour_overlap(sigma: float, size: int, step: float, settings: Settings | None = None) -> float:
    """Overlap of the canvas-centre bump with its neighbour one grid step away (the table's column)."""
    settings = settings or task_settings()
    return float(overlap_curve([step], sigma, size, (size + 1) // 2, settings.normalization)[0])
