"""The length-generalisation metric: do the detected bumps match the conditioned locations one to one?

Why this read-out: a sample answers a request for k bumps correctly only if it draws exactly k
bumps, each at a different requested place. So per image we

1. detect bumps as the connected components (8-connectivity) of dark pixels, ink = 1 - v/255 >
   ``ink_threshold`` - the same definition as :func:`diffcomp.eval.readout.count_features`, which
   gives the detected count - and take each component's ink-weighted centroid as its centre;
2. pair detected centres with conditioned locations by a minimum-cost assignment
   (``scipy.optimize.linear_sum_assignment`` on Euclidean distances);
3. call a pair a hit when both coordinates are within ``tolerance`` (strictly: ``|dx| < 1`` and
   ``|dy| < 1`` by default, the per-axis criterion of the main paper's appendix A.3).

Per scene: ``match`` (exactly k detected and all k paired hits), ``recall`` (fraction of the
requested locations that some detected bump hits, extra bumps allowed), and the count error
``|detected - k|``. Per k the callback averages them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from diffcomp.eval.readout import count_features

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def detect_bumps(image: np.ndarray, ink_threshold: float = 0.5) -> np.ndarray:
    """Centres [m, 2] as ``(x, y)`` pixel coordinates (1-based) of the dark components of one image [N, N]."""
    ink = np.clip(1.0 - np.asarray(image, dtype=np.float64) / 255.0, 0.0, 1.0)
    labelled, n = ndimage.label(ink > ink_threshold, structure=_EIGHT_CONNECTED)
    if n == 0:
        return np.zeros((0, 2))
    rows_cols = np.asarray(ndimage.center_of_mass(ink, labelled, index=np.arange(1, n + 1)), dtype=np.float64)
    return rows_cols[:, ::-1] + 1.0


def hits(detected: np.ndarray, targets: np.ndarray, tolerance: float = 1.0) -> int:
    """Number of targets paired (one to one, min total distance) with a detection within ``tolerance`` per axis."""
    if len(detected) == 0 or len(targets) == 0:
        return 0
    cost = np.linalg.norm(detected[:, None, :] - targets[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    close = np.abs(detected[rows] - targets[cols]).max(axis=1) < tolerance
    return int(close.sum())


@dataclass
class SceneScores:
    """Per-scene results, all arrays of length M: requested k, detected count, hits, one-to-one match."""

    requested: np.ndarray
    detected: np.ndarray
    hits: np.ndarray
    match: np.ndarray

    @property
    def recall(self) -> np.ndarray:
        return self.hits / np.maximum(self.requested, 1)

    @property
    def count_error(self) -> np.ndarray:
        return np.abs(self.detected - self.requested)


def score_scenes(
    images: np.ndarray, conditions: np.ndarray, tolerance: float = 1.0, ink_threshold: float = 0.5
) -> SceneScores:
    """Score images [M, N, N] (in [0, 255]) against the condition sets [M, K, 3] that asked for them."""
    images, conditions = np.asarray(images, dtype=np.float64), np.asarray(conditions, dtype=np.float64)
    detected_counts = count_features(images, ink_threshold)
    requested = np.zeros(len(images), dtype=np.int64)
    hit = np.zeros(len(images), dtype=np.int64)
    for i, (image, cond) in enumerate(zip(images, conditions)):
        targets = cond[cond[:, 2] > 0.5, :2]
        centres = detect_bumps(image, ink_threshold)
        requested[i], hit[i] = len(targets), hits(centres, targets, tolerance)
    match = (detected_counts == requested) & (hit == requested)
    return SceneScores(requested, detected_counts, hit, match)


def answers_training_scene(scores: SceneScores, regime: str, train_counts) -> np.ndarray:
    """Per training scene requested with its own conditions, whether the sample fits the training
    distribution: regime ``all`` asks for every bump, so the scene's ``match``; regime ``one`` labels
    one bump and leaves the rest to chance, so a hit at the labelled place and a bump count among
    the trained ones."""
    if regime == "all":
        return scores.match
    return (scores.hits == scores.requested) & np.isin(scores.detected, np.asarray(list(train_counts)))


def per_count_metrics(scores: SceneScores) -> dict[int, dict[str, float]]:
    """``{k: {"match", "recall", "count_error", "exact_count", "n"}}`` averaged over the scenes asking for k."""
    out = {}
    for k in np.unique(scores.requested):
        sel = scores.requested == k
        out[int(k)] = {
            "match": float(scores.match[sel].mean()),
            "recall": float(scores.recall[sel].mean()),
            "count_error": float(scores.count_error[sel].mean()),
            "exact_count": float((scores.detected[sel] == k).mean()),
            "n": int(sel.sum()),
        }
    return out
