"""Data efficiency (Fig. 5): the size for 60 %, in all images and in 2D images, and the null prediction
that a model gaining nothing from the stripes would meet. Synthetic sweeps whose answers are known:
accuracy rises linearly in log2 of the 2D images, crossing 60 % exactly at a chosen need."""

import math

import pandas as pd
import pytest

from diffcomp.sweeps.efficiency import loglog_slope, needs, null_prediction, size_for, stripes_save_2d

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
