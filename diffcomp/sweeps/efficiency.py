"""Data efficiency (main paper Sec. 3.2, Fig. 5): how many training images a model needs for 60 %
accuracy, per canvas side N, with and without 1D stripes, and whether the stripes *save 2D data*.

Why the 2D count matters: the stripes arm's training set is its 2D bumps plus a fixed 1D + 0D part
(about 12 N + 108 images), so its *total* grows linearly in N even for a model that learns nothing
from the stripes: such a model needs the 2D-only arm's 2D images on top of the fixed part. That sum
is the **null prediction**; the paper's claim (Fig. 5a-b: a few 2D examples suffice once the factors
are given as stripes) is that the stripes arm needs *fewer 2D images* than the 2D-only arm, i.e. that
it beats the null. So each (arm, N) reports the size for 60 % twice, in all images and in 2D images,
and the stripes arm is set against the null.

Interpolation rule (:func:`size_for`): seeds are averaged first; the points are sorted by size; the
first point at or above 60 % and the point before it (below 60 %) bound the crossing, and accuracy is
taken linear in log(size) between them. A curve already at 60 % at its smallest size gives an upper
bound (that size); one that never reaches 60 % a lower bound (its largest size).

Scaling (:func:`scaling`): the log-log slope of the size for 60 % against N over the N whose size was
interpolated (bounds left out), the paper's ~2 without stripes and ~1 with them; the figure's
reference lines pass through each arm's first such point (:func:`reference_anchors`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGET = 0.6


def size_for(sizes, accs, target: float = TARGET) -> dict:
    """The dataset size at which accuracy first reaches ``target``.

    ``sizes``/``accs``: one point per tried share (repeated sizes are averaged). Returns ``{"value",
    "kind", "between"}`` with kind ``interpolated`` (accuracy linear in log size between the last
    point below and the first at or above ``target``; exactly at a point gives that point),
    ``upper`` (the smallest size tried already reaches it: the true size is at most ``value``),
    ``lower`` (never reached: at least the largest size tried) or ``none`` (no points)."""
    pairs: dict[float, list[float]] = {}
    for s, a in zip(sizes, accs):
        if s is not None and a is not None and math.isfinite(s) and math.isfinite(a) and s > 0:
            pairs.setdefault(float(s), []).append(float(a))
    if not pairs:
        return {"value": None, "kind": "none", "between": None}
    xs = np.array(sorted(pairs))
    ys = np.array([np.mean(pairs[s]) for s in xs])
    above = np.flatnonzero(ys >= target)
    if above.size == 0:
        return {"value": float(xs[-1]), "kind": "lower", "between": None}
    i = int(above[0])
    if i == 0:
        return {"value": float(xs[0]), "kind": "upper", "between": None}
    (s0, a0), (s1, a1) = (xs[i - 1], ys[i - 1]), (xs[i], ys[i])
    t = (target - a0) / (a1 - a0)  # a1 >= target > a0, so 0 < t <= 1
    value = math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))
    return {"value": value, "kind": "interpolated", "between": ((float(s0), float(a0)), (float(s1), float(a1)))}


def loglog_slope(ns, values) -> float | None:
    """Least-squares slope of log(value) against log(N); None with fewer than two distinct N."""
    ns, values = np.asarray(ns, float), np.asarray(values, float)
    if np.unique(ns).size < 2:
        return None
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


@dataclass(frozen=True)
class Need:
    """What one (arm, N) needs for the target: in all images, in 2D images, and its fixed part."""

    stripes: float  # the arm: share of the 1D stripes kept (0: 2D only)
    n: int
    total: dict  # size_for over the total training images
    two_d: dict  # size_for over the 2D images alone
    fixed: float  # the 1D + 0D images every share of this arm trains on (0 for 2D only)


def needs(table, target: float = TARGET, acc: str = "eval/acc") -> dict[tuple[float, int], Need]:
    """Per (arm, N) of a mixture sweep's table (``mixture_runs_table``: columns ``stripes``, ``N``,
    ``f2d``, ``images``, ``n2d`` and ``acc``): the seed-averaged sizes for ``target``."""
    out = {}
    for (arm, n), part in table.groupby(["stripes", "N"]):
        curve = part.groupby("f2d").agg(images=("images", "mean"), n2d=("n2d", "mean"), acc=(acc, "mean"))
        out[(float(arm), int(n))] = Need(
            stripes=float(arm),
            n=int(n),
            total=size_for(curve["images"], curve["acc"], target),
            two_d=size_for(curve["n2d"], curve["acc"], target),
            fixed=float((part["images"] - part["n2d"]).mean()),
        )
    return out


def null_prediction(with_stripes: Need, two_d_only: Need) -> float | None:
    """The stripes arm's total need if its model learned nothing from the stripes: its fixed 1D + 0D
    part plus the 2D images the 2D-only arm needed at the same N (None unless that was interpolated)."""
    if two_d_only.two_d["kind"] != "interpolated":
        return None
    return with_stripes.fixed + two_d_only.two_d["value"]


def stripes_save_2d(with_stripes: Need, two_d_only: Need) -> bool | None:
    """Whether the stripes arm needed fewer 2D images than the 2D-only arm at the same N (Fig. 5a-b's
    claim); None when either need is only a bound that cannot decide it."""
    a, b = with_stripes.two_d, two_d_only.two_d
    if a["kind"] == "none" or b["kind"] == "none":
        return None
    # a lower bound on the stripes' need at or above the 2D-only's value decides "no"; an upper bound
    # below it decides "yes"; two interpolated values compare directly
    if a["kind"] == "interpolated" and b["kind"] == "interpolated":
        return a["value"] < b["value"]
    if a["kind"] in ("upper", "interpolated") and b["kind"] in ("lower", "interpolated") and a["value"] < b["value"]:
        return True
    if a["kind"] in ("lower", "interpolated") and b["kind"] in ("upper", "interpolated") and a["value"] >= b["value"]:
        return False
    return None


@dataclass(frozen=True)
class Curve:
    """One (arm, N)'s accuracy per 2D share, seeds averaged, and where it reaches the target."""

    points: object  # DataFrame indexed by f2d: images, acc (seed mean), lo, hi, seeds; sorted by images
    total: dict  # size_for over the seed-mean curve, in all training images
    per_seed: list[dict]  # size_for of each seed's own points, when the sweep repeats seeds


def curves(table, target: float = TARGET, acc: str = "eval/acc") -> dict[tuple, Curve]:
    """Per (arm, N) of a mixture sweep's table (``mixture_runs_table``) with rows: its :class:`Curve`."""
    out = {}
    for arm in sorted(table["stripes"].unique()):
        for n in sorted(table["N"].unique()):
            part = table[(table["stripes"] == arm) & (table["N"] == n)]
            if part.empty:
                continue
            points = part.groupby("f2d").agg(
                images=("images", "mean"),
                acc=(acc, "mean"),
                lo=(acc, "min"),
                hi=(acc, "max"),
                seeds=(acc, "size"),
            )
            points = points.sort_values("images")
            per_seed = []
            if part["seed"].nunique() > 1:
                per_seed = [size_for(p["images"], p[acc], target) for _, p in part.groupby("seed")]
            out[(arm, n)] = Curve(
                points=points, total=size_for(points["images"], points["acc"], target), per_seed=per_seed
            )
    return out


def interpolated(curves: dict, arm, ns) -> list[tuple]:
    """(N, size for the target) of ``arm`` at each N, in order, where the size was interpolated."""
    return [
        (n, curves[(arm, n)].total["value"])
        for n in ns
        if (arm, n) in curves and curves[(arm, n)].total["kind"] == "interpolated"
    ]


def scaling(curves: dict, arm, ns) -> tuple[float | None, int]:
    """The log-log slope of ``arm``'s size for the target against N over its interpolated N (None
    with fewer than two), and how many N it is fitted to."""
    points = interpolated(curves, arm, ns)
    if len(points) < 2:
        return None, len(points)
    return loglog_slope([n for n, _ in points], [v for _, v in points]), len(points)


def reference_anchors(curves: dict, arms, ns) -> tuple[dict, bool]:
    """Where the figure's reference lines pass: ``{"linear": (N, size), "quadratic": (N, size)}`` and
    whether they are bounds.

    The quadratic passes through the 2D-only arm's first interpolated point, the linear through the
    stripes arm's (each where the paper expects its arm to follow it); either falls back on the
    other's point, then on any arm's, then, when nothing was interpolated, on the first bound."""
    firsts = {arm: points[0] for arm in arms if (points := interpolated(curves, arm, ns))}
    anchor = next(iter(firsts.values()), None)
    on_bound = anchor is None
    if on_bound:
        anchor = next(((n, c.total["value"]) for (_, n), c in sorted(curves.items()) if c.total["value"]), None)
    no_stripes = firsts.get(min(arms)) if min(arms) <= 0 else None
    with_stripes = firsts.get(max(arms)) if max(arms) > 0 else None
    return {
        "linear": with_stripes or no_stripes or anchor,
        "quadratic": no_stripes or with_stripes or anchor,
    }, on_bound


def smallest_share_reaching(table, target: float = TARGET, acc: str = "eval/acc") -> float | None:
    """The smallest 2D share (``f2d``) whose seed-mean ``acc`` reaches ``target`` among one arm's runs
    (Figs. 4g, 5a-b: how few compositional examples suffice); None when no share reaches it."""
    if acc not in table or table.empty:
        return None
    means = table.groupby("f2d")[acc].mean()
    reached = [float(share) for share, value in means.items() if value >= target]
    return min(reached) if reached else None
