"""The three learning phases of the preprint (arXiv 2402.03305), read off one run's evaluations.

Why here and not in the figure script: the phase boundaries are numbers quoted on the results page,
so their rule lives in one tested place. The preprint names the phases by what the samples look like:
(A) several or no bumps, (B) one bump in the wrong place, (C) one bump in the right place. So

* A -> B is the first evaluation where ``eval/frac_one_feature`` >= :data:`ONE_FEATURE`;
* B -> C is the first evaluation at or after A -> B where ``eval/acc`` >= :data:`ACCURATE`.

A boundary's step is interpolated linearly from the evaluation before it; the bracketing
evaluations are kept, since the evaluation cadence is the real resolution.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import NamedTuple

import numpy as np

ONE_FEATURE = 0.5  # A -> B: most samples show exactly one bump
ACCURATE = 0.5  # B -> C: most samples are right on both axes


class Crossing(NamedTuple):
    """Where a curve first reaches a threshold: the interpolated step, the evaluation before it
    (None when the first evaluation already reached it) and the evaluation that reached it. A tuple,
    so ``(step, before, at)`` unpacks and compares as one."""

    step: float
    before: int | None
    at: int

    def bracket(self) -> str:
        return f"<= {self.at}" if self.before is None else f"({self.before}, {self.at}]"


def crossing(steps, values, threshold: float, start: float = -math.inf) -> Crossing | None:
    """The first evaluation at or after ``start`` with ``value >= threshold``, its step interpolated
    linearly from the evaluation before it and clipped to that bracket; None if never reached."""
    for i, (s, v) in enumerate(zip(steps, values)):
        if s >= start and v >= threshold:
            if i == 0:
                return Crossing(float(s), None, int(s))
            s0, v0 = steps[i - 1], values[i - 1]
            fraction = (threshold - v0) / (v - v0) if v > v0 else 1.0
            return Crossing(float(s0 + np.clip(fraction, 0, 1) * (s - s0)), int(s0), int(s))
    return None


def boundaries(one_feature: tuple, accuracy: tuple) -> tuple[Crossing | None, Crossing | None]:
    """(A -> B, B -> C) from the (steps, values) of ``eval/frac_one_feature`` and of ``eval/acc``.

    B -> C is looked for only from A -> B's evaluation on, and never put before A -> B (both curves
    may cross between the same two evaluations)."""
    a_to_b = crossing(*one_feature, ONE_FEATURE)
    if a_to_b is None:
        return None, None
    b_to_c = crossing(*accuracy, ACCURATE, start=a_to_b.at)
    if b_to_c is not None and b_to_c.step < a_to_b.step:
        b_to_c = b_to_c._replace(step=a_to_b.step)
    return a_to_b, b_to_c


def epochs(step: float | None, batch, images) -> float | None:
    """Passes over the training set after ``step`` optimizer steps: step x batch / images (None when
    any of them is unknown)."""
    if step is None or not batch or not isinstance(images, int) or images <= 0:
        return None
    return step * batch / images


def first_in_phase_b(eval_steps, a_to_b: Crossing, b_to_c: Crossing | None) -> int:
    """The first evaluation inside phase B (from A -> B's evaluation, before B -> C's); A -> B's own
    evaluation when phase B holds none."""
    end = b_to_c.at if b_to_c is not None else math.inf
    return next((s for s in sorted(eval_steps) if a_to_b.at <= s < end), a_to_b.at)


# verdicts of "denser data reaches the ordered phase sooner"
UNDETERMINED = "undetermined (no increment reached phase C)"
CONSISTENT = "consistent (B -> C later for every larger d)"
TIES = "consistent up to ties"
NOT_CONSISTENT = "not consistent (a larger d reached phase C sooner)"


def sooner_when_denser(reached: dict) -> tuple[list[tuple[float, float]], str | None]:
    """Whether the B -> C point grows with the increment d, i.e. denser data orders sooner.

    ``reached``: per d, the B -> C point of each seed (steps or epochs; ``inf`` when not reached).
    Returns the seed means by increasing d (numeric d only) and the verdict, None with fewer than
    two increments (not testable)."""
    means = sorted((k, float(np.mean(v))) for k, v in reached.items() if isinstance(k, (int, float)))
    if len(means) < 2:
        return means, None
    points = [s for _, s in means]
    if all(not np.isfinite(s) for s in points):
        return means, UNDETERMINED
    if all(a < b or (not np.isfinite(a) and not np.isfinite(b)) for a, b in pairwise(points)):
        return means, CONSISTENT
    if all(a <= b for a, b in pairwise(points)):
        return means, TIES
    return means, NOT_CONSISTENT
