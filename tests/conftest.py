"""Shared test set-up: W&B disabled, a non-interactive matplotlib, the tiny-run fixture."""

from __future__ import annotations

import os

import pytest

os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("MPLBACKEND", "Agg")

from support import TINY


@pytest.fixture
def tiny_overrides():
    return list(TINY)
