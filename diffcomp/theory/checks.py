"""Parameter checks shared by the theory tasks: each names the config field and its allowed range.

They raise the framework's :class:`~diffcomp.config.errors.ConfigError` (a ``ValueError``) so that a
sweep reports a bad theory job the same way as a bad training job, before any compute starts.
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, ListConfig

from diffcomp.config.errors import ConfigError


def task_node(cfg: DictConfig) -> DictConfig:
    """The ``task`` node, whether ``cfg`` is the whole job config or already the task node."""
    task = cfg.get("task") if isinstance(cfg, DictConfig) else None
    return task if isinstance(task, DictConfig) and "fn" in task else cfg


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def number(task: DictConfig, key: str, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> float:
    """``task[key]`` checked to lie in the interval; returns it."""
    value = task.get(key)
    allowed = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open or hi == math.inf else ']'}"
    kind = "an integer" if integer else "a number"
    ok = is_number(value) and (not integer or float(value).is_integer())
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        raise ConfigError(f"task.{key}", value, f"{kind} in {allowed}")
    return value


def numbers(task: DictConfig, key: str, lo: float = -math.inf, hi: float = math.inf,
            lo_open: bool = False, hi_open: bool = False, integer: bool = False,
            length: int | None = None) -> list:
    """``task[key]`` as a non-empty list (a scalar counts as a one-element list), each entry checked."""
    value = task.get(key)
    values = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    if not values or (length is not None and len(values) != length):
        want = f"exactly {length}" if length is not None else "at least one"
        raise ConfigError(f"task.{key}", value, f"a list with {want} entries")
    for v in values:
        number({key: v}, key, lo, hi, lo_open, hi_open, integer)
    return values


def choice(task: DictConfig, key: str, allowed: tuple[str, ...]) -> str:
    value = task.get(key)
    if value not in allowed:
        raise ConfigError(f"task.{key}", value, "one of " + ", ".join(allowed))
    return value
