"""One error type for bad user input, so every message names the field and what it may be."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A configuration value outside its meaning; raised before any compute starts."""

    def __init__(self, field: str, value: Any, allowed: str, context: str = ""):
        self.field, self.value, self.allowed = field, value, allowed
        where = f" ({context})" if context else ""
        super().__init__(f"{field}={value!r} is invalid{where}: allowed {allowed}")


def require(condition: bool, field: str, value: Any, allowed: str, context: str = "") -> None:
    """Raise :class:`ConfigError` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(field, value, allowed, context)
