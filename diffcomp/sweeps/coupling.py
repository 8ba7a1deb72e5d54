"""Are x and y learned together? (the preprint's imbalanced increments, claim 17): which axis reaches an
accuracy threshold first, the largest gap between them over training, and the reading over grids.

A grid is ``(dx, dy)``; "x first" means ``acc_x`` reached the threshold at an earlier evaluation than
``acc_y``. Crossings are :func:`diffcomp.sweeps.phases.crossing`'s: two axes crossing between the
same two evaluations are *together* (the evaluation cadence is the resolution).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

TOGETHER, X_FIRST, Y_FIRST, NEITHER = "together", "x first", "y first", "neither reached"


def axis_order(cx, cy) -> str:
    """Which axis reached the threshold first, from the two axes' crossings (None: not reached)."""
    if cx is None and cy is None:
        return NEITHER
    if cx is None or cy is None:  # only one axis got there within training
        return X_FIRST if cy is None else Y_FIRST
    if tuple(cx[1:]) == tuple(cy[1:]):
        return TOGETHER
    return X_FIRST if cx[2] < cy[2] else Y_FIRST


def largest_gap(x_series: tuple, y_series: tuple) -> tuple[float, int] | None:
    """The largest |acc_x - acc_y| over the evaluations both axes have: (signed acc_x - acc_y, step)."""
    (sx, ax), (sy, ay) = x_series, y_series
    common = sorted(set(np.asarray(sx).tolist()) & set(np.asarray(sy).tolist()))
    if not common:
        return None
    gaps = [(float(ax[sx == s][0] - ay[sy == s][0]), int(s)) for s in common]
    return max(gaps, key=lambda g: abs(g[0]))


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _denser_is_x(grid: tuple) -> bool:
    dx, dy = grid
    return isinstance(dx, (int, float)) and isinstance(dy, (int, float)) and dx < dy


def reading(orders: dict[tuple, list[str]], thresholds: Iterable[float]) -> str:
    """The claim's reading over the imbalanced grids (dx != dy) from every (seed, threshold)'s order:
    *coupled* when every one is "together", *factorized* when the denser axis is always first, else
    *mixed* with the orders listed."""
    imbalanced = {grid: found for grid, found in orders.items() if grid[0] != grid[1]}
    if not imbalanced:
        return "Reading: no imbalanced grid (dx != dy) among the records."
    decided = [o for found in imbalanced.values() for o in found if o in (TOGETHER, X_FIRST, Y_FIRST)]
    if not decided:
        return "Reading: no axis of an imbalanced grid reached a threshold; undetermined."
    denser_first = all(
        o == (X_FIRST if _denser_is_x(g) else Y_FIRST)
        for g, found in imbalanced.items()
        for o in found
        if o in (X_FIRST, Y_FIRST)
    )
    if all(o == TOGETHER for o in decided):
        verdict = "coupled: in every imbalanced grid x and y reached each threshold together (as the preprint reports)"
    elif denser_first and all(o != TOGETHER for o in decided):
        verdict = "factorized: the denser axis reached every threshold first in every imbalanced grid"
    else:
        verdict = "mixed: " + "; ".join(
            f"dx={_number(g[0])}, dy={_number(g[1])}: {', '.join(found)}" for g, found in imbalanced.items()
        )
    return f"Reading (thresholds {', '.join(f'{t:.0%}' for t in thresholds)}): {verdict}."
