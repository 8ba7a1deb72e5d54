"""Recording a named layer's output with a forward hook (the "layer 4" of the paper).

The UNet names its stages (``down1..3``, ``up1..3``, plus ``middle``); a hook keeps the output of
the *last* call, which during sampling is the final generation step (appendix A.3 uses the
activations "collected at the terminal diffusion generation timestep").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import Tensor, nn


@dataclass
class Captured:
    last: Tensor | None = None


def layer_names(model: nn.Module) -> list[str]:
    """The probe-able layer names of ``model`` (its stages and bottleneck)."""
    names = list(getattr(model, "stages", {}).keys())
    if hasattr(model, "middle"):
        names.append("middle")
    return names


def resolve_layer(model: nn.Module, name: str) -> nn.Module:
    if name == "middle" and hasattr(model, "middle"):
        return model.middle
    stages = getattr(model, "stages", {})
    if name not in stages:
        raise ValueError(
            f"eval.probe_layer={name!r} is not a layer of this model; allowed: {', '.join(layer_names(model))}"
        )
    return stages[name]


@contextmanager
def capture_layer(model: nn.Module, name: str | None) -> Iterator[Captured]:
    """Within the block, ``captured.last`` holds the named layer's most recent output (detached)."""
    captured = Captured()
    if name is None:
        yield captured
        return

    def hook(_module, _inputs, output):
        captured.last = output.detach()

    handle = resolve_layer(model, name).register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
