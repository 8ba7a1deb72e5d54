"""Shared test set-up: W&B disabled, a non-interactive matplotlib, the tiny-run fixture."""

from __future__ import annotations

import os

import pytest

os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("MPLBACKEND", "Agg")

from support import TINY


def pytest_collection_modifyitems(config, items):
    """Every ``gpu``-marked test skips where CUDA is absent (``pytest -m gpu`` on a CPU reports skips)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tiny_overrides():
    return list(TINY)
