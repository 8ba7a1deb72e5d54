"""Data efficiency (Fig. 5): the size for 60 %, in all images and in 2D images, and the null prediction
that a model gaining nothing from the stripes would meet. Synthetic sweeps whose answers are known:
accuracy rises linearly in log2 of the 2D images, crossing 60 % exactly at a chosen need."""

import math

import pandas as pd
import pytest

from diffcomp.sweeps.efficiency import (
    Curve,
    curves,
    interpolated,
    loglog_slope,
    needs,
    null_prediction,
    reference_anchors,
    scaling,
    size_for,
    stripes_save_2d,
)

SHARES = (0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 1.0)


def accuracy(n2d: float, need: float) -> float:
    """0.6 exactly at ``need``, +0.2 per doubling (so log-size interpolation is exact), within [0, 1]."""
    return min(1.0, max(0.0, 0.6 + 0.2 * math.log2(n2d / need)))


def sweep(ns, need_2d, stripes_need_2d=None) -> pd.DataFrame:
    """A mixture sweep's table: per N the 2D-only arm (4 N^2 2D images at share 1) and the stripes arm
    (the same 2D images plus a fixed 12 N + 108 1D + 0D part)."""
    rows = []
    for n in ns:
        for stripes in (0.0, 1.0):
            fixed = 0 if stripes == 0 else 12 * n + 108
            need = need_2d(n) if stripes == 0 else (stripes_need_2d or need_2d)(n)
            for share in SHARES:
                n2d = share * 4 * n * n
                rows.append(
                    dict(
                        N=n,
                        stripes=stripes,
                        f2d=share,
                        n2d=n2d,
                        images=n2d + fixed,
                        seed=0,
                        **{"eval/acc": accuracy(n2d, need)},
                    )
                )
    return pd.DataFrame(rows)


def test_size_for_interpolates_in_log_size_and_bounds_what_it_cannot_bracket():
    result = size_for([10, 100], [0.4, 0.8])
    assert result["kind"] == "interpolated" and result["value"] == pytest.approx(math.sqrt(10 * 100))
    assert size_for([10, 100], [0.7, 0.9]) == {"value": 10.0, "kind": "upper", "between": None}
    assert size_for([10, 100], [0.1, 0.5]) == {"value": 100.0, "kind": "lower", "between": None}
    assert size_for([10, 10, 100], [0.2, 0.6, 0.8])["value"] == pytest.approx(10 ** (1 + 0.2 / 0.4))  # seeds averaged
    assert size_for([], [])["kind"] == "none"


def test_a_quadratic_need_has_log_log_slope_two():
    assert loglog_slope([8, 16, 24], [0.3 * n**2 for n in (8, 16, 24)]) == pytest.approx(2.0)
    assert loglog_slope([8, 8], [1.0, 2.0]) is None


def test_a_model_that_gains_nothing_from_the_stripes_meets_the_null_and_saves_no_2d_data():
    # the stripes arm needs the same 2D images as 2D only: its total grows ~linearly (12 N + 108 fixed
    # dominates at small N) although the stripes did nothing - the confound the null prediction exposes
    table = sweep((8, 16, 24), need_2d=lambda n: 0.35 * n * n)
    need = needs(table)
    for n in (8, 16, 24):
        base, striped = need[(0.0, n)], need[(1.0, n)]
        assert base.two_d["value"] == pytest.approx(0.35 * n * n)
        assert striped.fixed == pytest.approx(12 * n + 108)
        assert striped.two_d["value"] == pytest.approx(base.two_d["value"])
        # equal up to the interpolation: linear in log(total) there, in log(2D images) here
        assert striped.total["value"] == pytest.approx(null_prediction(striped, base), rel=0.01)
        assert stripes_save_2d(striped, base) is False
    totals = [need[(1.0, n)].total["value"] for n in (8, 16, 24)]
    assert loglog_slope([8, 16, 24], totals) < 1.3  # "linear" in total images, by the fixed part alone


def test_stripes_that_halve_the_2d_need_beat_the_null():
    table = sweep((8, 16, 24), need_2d=lambda n: 1.2 * n * n, stripes_need_2d=lambda n: 0.6 * n * n)
    need = needs(table)
    for n in (8, 16, 24):
        base, striped = need[(0.0, n)], need[(1.0, n)]
        assert striped.two_d["value"] == pytest.approx(base.two_d["value"] / 2)
        assert striped.total["value"] < null_prediction(striped, base)
        assert stripes_save_2d(striped, base) is True


def test_bounds_decide_the_saving_only_when_they_are_on_the_deciding_side():
    interpolated = {"value": 100.0, "kind": "interpolated", "between": None}
    from diffcomp.sweeps.efficiency import Need

    def need(two_d):
        return Need(stripes=1.0, n=8, total=two_d, two_d=two_d, fixed=0.0)

    assert stripes_save_2d(need({"value": 50.0, "kind": "upper"}), need(interpolated)) is True
    assert stripes_save_2d(need({"value": 50.0, "kind": "lower"}), need(interpolated)) is None
    assert stripes_save_2d(need({"value": 150.0, "kind": "lower"}), need(interpolated)) is False
    assert null_prediction(need(interpolated), need({"value": 10.0, "kind": "lower"})) is None


def seeded(table: pd.DataFrame, shifts=(0.0, 0.0)) -> pd.DataFrame:
    """The table once per seed, each seed's accuracy shifted by its entry of ``shifts``."""
    copies = []
    for seed, shift in enumerate(shifts):
        copy = table.copy()
        copy["seed"], copy["eval/acc"] = seed, (copy["eval/acc"] + shift).clip(0, 1)
        copies.append(copy)
    return pd.concat(copies, ignore_index=True)


def test_a_quadratic_and_a_linear_need_have_slopes_two_and_one():
    table = sweep((8, 16, 24), need_2d=lambda n: 0.35 * n * n)  # 2D only needs 0.35 N^2 images
    found = curves(table)
    assert scaling(found, 0.0, (8, 16, 24)) == (pytest.approx(2.0), 3)
    assert interpolated(found, 0.0, (8, 16, 24)) == [(n, pytest.approx(0.35 * n * n)) for n in (8, 16, 24)]
    linear = {(1.0, n): Curve(None, {"value": 5.0 * n, "kind": "interpolated", "between": None}, []) for n in (8, 16)}
    assert scaling(linear, 1.0, (8, 16)) == (pytest.approx(1.0), 2)


def test_bounds_are_left_out_of_the_slope_and_one_point_gives_none():
    # at N = 24 the stripes arm never reaches 60 %: a lower bound, not a point of the fit
    table = sweep(
        (8, 16, 24), need_2d=lambda n: 0.35 * n * n, stripes_need_2d=lambda n: 0.35 * n * n if n < 24 else 1e6
    )
    found = curves(table)
    assert found[(1.0, 24)].total["kind"] == "lower"
    assert [n for n, _ in interpolated(found, 1.0, (8, 16, 24))] == [8, 16]
    assert scaling(found, 1.0, (8, 16, 24))[1] == 2
    assert scaling(found, 1.0, (8,)) == (None, 1)


def test_a_curve_averages_its_seeds_and_reads_each_seed_too():
    table = seeded(sweep((8,), need_2d=lambda n: 0.7 * n * n).query("stripes == 0"), shifts=(0.2, -0.2))
    found = curves(table)[(0.0, 8)]
    assert list(found.points.index) == list(SHARES) and set(found.points["seeds"]) == {2}
    assert found.points["hi"].iloc[1] - found.points["lo"].iloc[1] == pytest.approx(0.4)
    # +0.2 accuracy is one doubling sooner, -0.2 one later; their mean is the unshifted curve
    seeds = [s["value"] for s in found.per_seed]
    assert seeds == [pytest.approx(0.7 * 64 / 2), pytest.approx(0.7 * 64 * 2)]
    assert found.total["value"] == pytest.approx(0.7 * 64)
    assert curves(table.query("seed == 0"))[(0.0, 8)].per_seed == []  # one seed: nothing to list


def test_each_reference_passes_through_the_first_point_of_the_arm_expected_to_follow_it():
    table = sweep((8, 16), need_2d=lambda n: 0.35 * n * n, stripes_need_2d=lambda n: 0.3 * n * n)
    found = curves(table)
    anchors, on_bound = reference_anchors(found, [0.0, 1.0], [8, 16])
    assert not on_bound
    assert anchors["quadratic"] == (8, pytest.approx(found[(0.0, 8)].total["value"]))  # 2D only's first point
    assert anchors["linear"] == (8, pytest.approx(found[(1.0, 8)].total["value"]))  # the stripes arm's
    # a stripes arm already at 60 % at its smallest share (upper bounds only) lends the 2D-only point
    early = curves(sweep((8, 16), need_2d=lambda n: 0.35 * n * n, stripes_need_2d=lambda n: 0.1 * n * n))
    assert early[(1.0, 8)].total["kind"] == "upper"
    assert reference_anchors(early, [0.0, 1.0], [8, 16])[0]["linear"] == anchors["quadratic"]
    # one arm alone: both references through its point
    only = {k: c for k, c in found.items() if k[0] == 0.0}
    assert reference_anchors(only, [0.0], [8, 16])[0] == {
        "linear": anchors["quadratic"],
        "quadratic": anchors["quadratic"],
    }


def test_with_nothing_interpolated_the_references_pass_through_the_first_bound():
    bound = {"value": 400.0, "kind": "lower", "between": None}
    found = {(0.0, 16): Curve(None, bound, []), (1.0, 8): Curve(None, {**bound, "value": 300.0}, [])}
    assert reference_anchors(found, [0.0, 1.0], [8, 16]) == ({"linear": (16, 400.0), "quadratic": (16, 400.0)}, True)


def test_the_smallest_share_reaching_the_target_uses_seed_means():
    import pandas as pd

    from diffcomp.sweeps.efficiency import smallest_share_reaching

    table = pd.DataFrame(
        {"f2d": [0.1, 0.1, 0.25, 0.25, 0.5], "eval/acc": [0.7, 0.4, 0.6, 0.62, 0.9]}  # 0.1: mean 0.55, below
    )
    assert smallest_share_reaching(table, 0.6) == 0.25
    assert smallest_share_reaching(table, 0.95) is None
    assert smallest_share_reaching(table.drop(columns="eval/acc"), 0.6) is None
