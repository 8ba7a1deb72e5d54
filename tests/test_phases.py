"""The three phases' rules (diffcomp.sweeps.phases) on hand-made curves whose crossings are known by
construction: a straight line through the threshold, a curve reached at its first evaluation, one
never reached, both curves crossing between the same two evaluations."""

import math

import numpy as np
import pytest

from diffcomp.sweeps.phases import (
    CONSISTENT,
    NOT_CONSISTENT,
    TIES,
    UNDETERMINED,
    Crossing,
    boundaries,
    crossing,
    epochs,
    first_in_phase_b,
    sooner_when_denser,
)

STEPS = np.array([0.0, 100.0, 200.0, 300.0, 400.0])


def test_a_straight_line_crosses_where_it_reaches_the_threshold():
    # 0.2 per 100 steps: 0.5 is reached at step 250, between the evaluations at 200 and 300
    hit = crossing(STEPS, STEPS / 500, 0.5)
    assert (hit.step, hit.before, hit.at) == (pytest.approx(250.0), 200, 300)
    assert hit.bracket() == "(200, 300]"


def test_reached_at_the_first_evaluation_is_an_upper_bound_and_never_reached_is_none():
    hit = crossing(STEPS, np.ones(5), 0.5)
    assert (hit.step, hit.before, hit.at) == (0.0, None, 0) and hit.bracket() == "<= 0"
    assert crossing(STEPS, np.full(5, 0.4), 0.5) is None


def test_a_start_skips_earlier_crossings_and_keeps_the_step_inside_the_bracket():
    values = np.array([0.0, 0.8, 0.0, 0.4, 0.8])  # up at 100, down, up again between 300 and 400
    assert crossing(STEPS, values, 0.6).at == 100
    later = crossing(STEPS, values, 0.6, start=150)
    assert (later.step, later.before, later.at) == (pytest.approx(350.0), 300, 400)
    # already above the threshold at the evaluation before ``start``: clipped to the bracket's left
    # end while rising, its right end on a plateau (no slope to interpolate along)
    rising = crossing(STEPS, STEPS / 500, 0.3, start=250)
    assert (rising.step, rising.before, rising.at) == (200.0, 200, 300)
    flat = crossing(STEPS, np.array([0.0, 0.8, 0.8, 0.8, 0.8]), 0.6, start=250)
    assert (flat.step, flat.before, flat.at) == (300.0, 200, 300)


def test_phase_b_lies_between_one_feature_and_accuracy():
    one = (STEPS, np.array([0.0, 1.0, 1.0, 1.0, 1.0]))  # one bump from step 50 (0.5 of the way to 100)
    acc = (STEPS, np.array([0.0, 0.0, 0.0, 1.0, 1.0]))  # right from step 250
    a_to_b, b_to_c = boundaries(one, acc)
    assert a_to_b.step == pytest.approx(50.0) and b_to_c.step == pytest.approx(250.0)
    assert first_in_phase_b(STEPS, a_to_b, b_to_c) == 100  # evaluations 100 and 200 are in phase B


def test_accuracy_is_not_looked_for_before_phase_b_and_never_puts_c_before_b():
    # both cross between 0 and 100: one-feature at 75, accuracy at 50 -> C is put at B's 75
    one = (STEPS, np.array([0.0, 0.5 / 0.75, 1.0, 1.0, 1.0]))
    acc = (STEPS, np.array([0.0, 1.0, 1.0, 1.0, 1.0]))
    a_to_b, b_to_c = boundaries(one, acc)
    assert a_to_b.step == pytest.approx(75.0) and b_to_c.step == pytest.approx(75.0)
    assert first_in_phase_b(STEPS, a_to_b, b_to_c) == 100  # phase B holds no evaluation: B's own
    # accuracy high only before one-feature is: no phase C then
    early = (STEPS, np.array([1.0, 0.0, 0.0, 0.0, 0.0]))
    late_one = (STEPS, np.array([0.0, 0.0, 0.0, 1.0, 1.0]))
    assert boundaries(late_one, early)[1] is None
    assert boundaries((STEPS, np.zeros(5)), acc) == (None, None)


def test_epochs_are_steps_times_batch_over_images():
    assert epochs(100, 32, 256) == pytest.approx(12.5)
    assert epochs(None, 32, 256) is None and epochs(100, None, 256) is None and epochs(100, 32, None) is None


def test_the_verdict_reads_the_seed_means_by_increasing_increment():
    means, verdict = sooner_when_denser({1.0: [300, 500], 0.25: [100, 100]})
    assert means == [(0.25, 100.0), (1.0, 400.0)] and verdict == CONSISTENT
    assert sooner_when_denser({0.25: [400], 1.0: [400]})[1] == TIES
    assert sooner_when_denser({0.25: [500], 1.0: [400]})[1] == NOT_CONSISTENT
    assert sooner_when_denser({0.25: [math.inf], 1.0: [math.inf]})[1] == UNDETERMINED
    assert sooner_when_denser({0.25: [400], 1.0: [math.inf]})[1] == CONSISTENT  # never reached is latest
    assert sooner_when_denser({0.25: [400], "x": [100]}) == ([(0.25, 400.0)], None)  # one number: not testable


def test_a_crossing_is_the_tuple_step_before_at():
    steps, values = np.array([0.0, 10.0, 20.0]), np.array([0.0, 0.4, 0.8])
    assert crossing(steps, values, 0.6) == (15.0, 10, 20) == Crossing(15.0, 10, 20)
    step, before, at = crossing(steps, values, 0.6, start=15)
    assert (step, before, at) == (15.0, 10, 20)
