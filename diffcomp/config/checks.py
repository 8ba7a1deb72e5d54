"""The one validation dialect: typed checks of config fields that name the field and its allowed range.

Every component validates its own config node with these (the datamodules, the models, the training
path, the theory tasks), so a bad value fails before any compute starts with the same kind of
message everywhere: ``train.lr=-1 is invalid: allowed a number in (0, inf)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from omegaconf import ListConfig

from diffcomp.config.errors import ConfigError, require

__all__ = ["ConfigError", "choice", "is_number", "number", "numbers", "optional_number", "require", "task_node"]


def task_node(cfg):
    """The ``task`` node, whether ``cfg`` is the whole job config or already the task node."""
    from omegaconf import DictConfig

    task = cfg.get("task") if isinstance(cfg, DictConfig) else None
    return task if isinstance(task, DictConfig) and "fn" in task else cfg


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open or hi == math.inf else ']'}"


def number(
    node: Mapping,
    key: str,
    lo: float = -math.inf,
    hi: float = math.inf,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    prefix: str = "task",
) -> float:
    """``node[key]`` checked to lie in the interval; returns it. The error names ``prefix.key``."""
    value = node.get(key)
    kind = "an integer" if integer else "a number"
    ok = is_number(value) and (not integer or float(value).is_integer())
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        raise ConfigError(
            f"{prefix}.{key}" if prefix else key, value, f"{kind} in {_interval(lo, hi, lo_open, hi_open)}"
        )
    return value


def optional_number(
    node: Mapping,
    key: str,
    lo: float = -math.inf,
    hi: float = math.inf,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    prefix: str = "task",
) -> float | None:
    """Like :func:`number`, but ``null`` is allowed (and returned)."""
    if node.get(key) is None:
        return None
    try:
        return number(node, key, lo, hi, lo_open, hi_open, integer, prefix)
    except ConfigError as error:
        raise ConfigError(error.field, error.value, f"null or {error.allowed}") from None


def numbers(
    node: Mapping,
    key: str,
    lo: float = -math.inf,
    hi: float = math.inf,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    length: int | None = None,
    prefix: str = "task",
) -> list:
    """``node[key]`` as a non-empty list (a scalar counts as a one-element list), each entry checked."""
    value = node.get(key)
    values = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    field = f"{prefix}.{key}" if prefix else key
    if not values or (length is not None and len(values) != length):
        want = f"exactly {length}" if length is not None else "at least one"
        raise ConfigError(field, value, f"a list with {want} entries")
    for v in values:
        try:
            number({key: v}, key, lo, hi, lo_open, hi_open, integer, prefix)
        except ConfigError as error:
            raise ConfigError(
                field,
                list(values),
                f"a list of {error.allowed.replace('a number', 'numbers').replace('an integer', 'integers')}",
            ) from None
    return values


def choice(node: Mapping, key: str, allowed: tuple, prefix: str = "task") -> Any:
    """``node[key]`` checked to be one of ``allowed``."""
    value = node.get(key)
    if value not in allowed:
        raise ConfigError(f"{prefix}.{key}" if prefix else key, value, "one of " + ", ".join(map(str, allowed)))
    return value
