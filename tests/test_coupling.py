"""Which axis is learned first (claim 17), against hand-made crossings and curves."""

from __future__ import annotations

import numpy as np

from diffcomp.sweeps import coupling
from diffcomp.sweeps.phases import crossing

STEPS = np.array([0.0, 100.0, 200.0, 300.0])


def test_the_axis_order_is_read_at_the_evaluations_resolution():
    x = crossing(STEPS, np.array([0.0, 0.4, 0.9, 1.0]), 0.5)  # between 100 and 200
    y_same = crossing(STEPS, np.array([0.0, 0.2, 0.6, 1.0]), 0.5)  # also between 100 and 200
    y_late = crossing(STEPS, np.array([0.0, 0.1, 0.3, 0.8]), 0.5)  # between 200 and 300
    assert coupling.axis_order(x, y_same) == coupling.TOGETHER
    assert coupling.axis_order(x, y_late) == coupling.X_FIRST
    assert coupling.axis_order(y_late, x) == coupling.Y_FIRST
    assert coupling.axis_order(x, None) == coupling.X_FIRST and coupling.axis_order(None, x) == coupling.Y_FIRST
    assert coupling.axis_order(None, None) == coupling.NEITHER


def test_the_largest_gap_keeps_its_sign_and_step():
    x = (STEPS, np.array([0.0, 0.8, 0.9, 1.0]))
    y = (STEPS[1:], np.array([0.1, 0.95, 1.0]))  # no evaluation at step 0: compared where both exist
    gap, step = coupling.largest_gap(x, y)
    assert abs(gap - 0.7) < 1e-12 and step == 100
    assert coupling.largest_gap((STEPS[:1], np.zeros(1)), (STEPS[1:], np.zeros(3))) is None


def test_the_reading_over_grids():
    thresholds = (0.5, 0.9)
    balanced_only = {(0.5, 0.5): ["x first"]}
    assert "no imbalanced grid" in coupling.reading(balanced_only, thresholds)
    assert "undetermined" in coupling.reading({(0.5, 1.0): ["neither reached"]}, thresholds)
    coupled = coupling.reading({(0.5, 1.0): ["together", "together"], (1.0, 0.5): ["together"]}, thresholds)
    assert coupled.startswith("Reading (thresholds 50%, 90%): coupled")
    # x is denser in (0.5, 1.0), y in (1.0, 0.5): the denser axis first everywhere is factorized
    factorized = coupling.reading({(0.5, 1.0): ["x first"], (1.0, 0.5): ["y first"]}, thresholds)
    assert "factorized" in factorized
    mixed = coupling.reading({(0.5, 1.0): ["y first", "together"]}, thresholds)
    assert "mixed: dx=0.5, dy=1: y first, together" in mixed
