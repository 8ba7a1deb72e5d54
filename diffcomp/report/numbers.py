"""Summaries over seeds and how a table cell shows a number: one rule for every figure script."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def is_number(value) -> bool:
    """A real number from a record (JSON booleans excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value) -> float:
    """A metric as a float; NaN when it is missing or not a number (null in the record)."""
    return float(value) if is_number(value) else math.nan


def finite_values(values: Iterable) -> np.ndarray:
    """The finite numbers among ``values`` (nulls, NaN and text dropped): what a statistic is over."""
    return np.asarray([v for v in values if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)


def stats(values: Iterable) -> tuple[float, float, int]:
    """(mean, sample std, n) of the finite values; std NaN for one value, everything NaN for none."""
    values = finite_values(values)
    if not len(values):
        return math.nan, math.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan, len(values)


def stats_text(summary: tuple[float, float, int]) -> str:
    """``mean ± std (n)`` of :func:`stats` (``mean (n)`` for one value, ``-`` for none)."""
    mean, sd, n = summary
    if n == 0:
        return "-"
    return f"{mean:.3f} ± {sd:.3f} ({n})" if math.isfinite(sd) else f"{mean:.3f} ({n})"


def error_bars(groups: Iterable[Iterable]) -> tuple[np.ndarray, np.ndarray]:
    """Per group of values, the mean and the std as an error bar (0 where a group has one value)."""
    summaries = [stats(g) for g in groups]
    return (
        np.array([s[0] for s in summaries]),
        np.array([s[1] if math.isfinite(s[1]) else 0.0 for s in summaries]),
    )


def range_text(values: Iterable) -> str:
    """``mean`` for one value, ``mean (min-max, n=k)`` for several, ``-`` for none: with a few seeds
    the range says more than a std."""
    vals = finite_values(values)
    if vals.size == 0:
        return "-"
    if vals.size == 1:
        return f"{vals[0]:.2f}"
    return f"{vals.mean():.2f} ({vals.min():.2f}-{vals.max():.2f}, n={vals.size})"


def count_range_text(counts: Iterable[int]) -> str:
    """``3`` when every point has 3 seeds, ``2-3`` when they differ."""
    counts = list(counts)
    lo, hi = min(counts), max(counts)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def number_text(value, spec: str = ".3f", missing: str = "–") -> str:
    """A table cell: ``value`` formatted with ``spec``, ``missing`` when it is not a finite number."""
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else missing


def percent_text(share) -> str:
    """A share as ``12.5%``, ``-`` when the record has none."""
    return f"{100 * share:.1f}%" if isinstance(share, (int, float)) else "-"


def mixed_sort_key(value) -> tuple:
    """Numbers in order, then anything else by its text (a swept value may be a string or null)."""
    return (not isinstance(value, (int, float)), value if isinstance(value, (int, float)) else str(value))
