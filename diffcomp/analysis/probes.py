"""Linear probes: how much of each label a linear read-out of the layer recovers.

The preprint (summary, "linear regression on layer 4 outputs") decodes the feature position from
activations. We report the held-out R^2 of a ridge regression (features standardised, so ``alpha``
means the same for every layer) under seeded K-fold cross-validation, averaged over folds.

On torus data (``period`` given) a position is an angle: a perfect ring code ``(cos, sin)`` is *not*
linear in ``mu`` (it wraps), so we probe ``cos(2 pi mu / period)`` and ``sin(2 pi mu / period)``
and report their mean R^2 as the axis's score.

``shuffle=True`` permutes the labels across samples (seeded) as a control: a held-out R^2 near 0 (or
below) shows the probe is not fitting noise.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from diffcomp.analysis.geometry import as_matrix


def probe_targets(labels: np.ndarray, period: float | None = None) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Regression targets and which of their columns belong to ``x`` and ``y``."""
    labels = np.asarray(labels, dtype=np.float64)
    if period is None:
        return labels[:, :2], {"x": [0], "y": [1]}
    angles = 2 * np.pi * labels[:, :2] / period
    targets = np.stack([np.cos(angles[:, 0]), np.sin(angles[:, 0]), np.cos(angles[:, 1]), np.sin(angles[:, 1])], axis=1)
    return targets, {"x": [0, 1], "y": [2, 3]}


def linear_probe_r2(
    activations: np.ndarray,
    labels: np.ndarray,
    *,
    period: float | None = None,
    n_splits: int = 5,
    alpha: float = 1.0,
    shuffle: bool = False,
    seed: int = 0,
) -> dict[str, float]:
    """Held-out R^2 of x and of y (``{"x": ..., "y": ...}``), mean over ``n_splits`` seeded folds."""
    x = as_matrix(activations)
    targets, columns = probe_targets(labels, period)
    rng = np.random.default_rng(seed)
    if shuffle:
        targets = targets[rng.permutation(len(targets))]
    folds = KFold(n_splits=min(n_splits, len(x)), shuffle=True, random_state=seed)
    scores = []
    for train, test in folds.split(x):
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
        model.fit(x[train], targets[train])
        scores.append(r2_score(targets[test], model.predict(x[test]), multioutput="raw_values"))
    per_column = np.mean(scores, axis=0)
    return {axis: float(np.mean(per_column[cols])) for axis, cols in columns.items()}
