"""Clean float ranges for sweeps.

Hydra's ``range(0.1,1,0.1)`` accumulates float error (0.30000000000000004, 0.7000000000000001)
and, through that drift, can even include the stop value; those strings reach the job's config,
its output directory and its W&B run name. :func:`clean_range` recomputes such a range with
integer counting and rounds every value to the decimals the user typed, so ``lambda`` reaches jobs
as exactly 0.1 ... 0.9. The sweeper plugin (``hydra_plugins/diffcomp_sweeper``, planning in
:mod:`diffcomp.sweeps.plan`) applies it to every range override before expanding the product.

This module imports no torch, so planning a sweep of hundreds of jobs stays fast.
"""

from __future__ import annotations

import math
from decimal import Decimal


def _decimals(value: float | int) -> int:
    """Number of decimals in the shortest repr of ``value`` (``0.1`` -> 1, ``2`` -> 0)."""
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def clean_range(start: float | int, stop: float | int, step: float | int = 1) -> list[float | int]:
    """Python-``range`` semantics (stop excluded) for floats, without accumulated error.

    >>> clean_range(0.1, 1, 0.1)
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    """
    if step == 0:
        raise ValueError("range step must not be 0")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return list(range(start, stop, step))
    places = max(_decimals(start), _decimals(step))
    count = max(0, math.ceil((stop - start) / step - 1e-9))
    return [round(start + k * step, places) for k in range(count)]


def format_value(value) -> str:
    """The override string of a swept value (``repr`` keeps 0.1 as ``0.1``)."""
    return repr(value) if isinstance(value, float) else str(value)
