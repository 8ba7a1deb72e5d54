"""Recording a named layer's output with a forward hook (the "layer 4" of the paper).

The UNet names its stages (``down1..3``, ``up1..3``, plus ``middle``); a hook keeps the output of
the *last* call, which during sampling is the final generation step (appendix A.3 uses the
activations "collected at the terminal diffusion generation timestep").

Which layer: by name, or ``auto`` with a map size (:func:`auto_layer`). The paper's "layer 4" is a
4x4 map at N=32; a fixed name would change that geometry with N (``down3`` is 2x2 at N=16, where two
cells per axis fold every ring of a torus), so the default picks the layer by its map's side.
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


AUTO = "auto"


def auto_layer(map_sizes: dict[str, int], side: int) -> str | None:
    """The encoder layer whose map is closest to ``side`` x ``side`` without being smaller: the deepest
    stage of the encoder (the layers up to the first smallest map) whose side is >= ``side``.

    With ``side=4``: ``down3`` at N=32 (the paper's layer 4), ``down2`` at N=16, ``down1`` at N=8, all
    exactly 4x4; at N=24 (maps 12, 6, 3) ``down2``'s 6x6, since 3 cells per axis would fold the rings
    more than the paper's map does. ``None`` when even the first layer is smaller than ``side``.
    """
    names = list(map_sizes)
    smallest = min(map_sizes.values())
    encoder = names[: next(i for i, name in enumerate(names) if map_sizes[name] == smallest) + 1]
    large_enough = [name for name in encoder if map_sizes[name] >= side]
    return large_enough[-1] if large_enough else None


def choose_probe_layer(model: nn.Module, name: str | None, side: int = 4) -> str | None:
    """The layer name that ``eval.probe_layer`` means for ``model``: ``name`` itself, or for ``auto`` the
    :func:`auto_layer` of the model's ``map_sizes(image_size)``."""
    if name != AUTO:
        return name
    sizes = model.map_sizes(model.image_size) if hasattr(model, "map_sizes") else None
    layer = auto_layer(sizes, side) if sizes else None
    if layer is None:
        raise ValueError(
            f"eval.probe_layer=auto found no layer with a map of at least {side}x{side} (eval.probe_map_size)"
            + (f"; this model's maps: {sizes}" if sizes else f": {type(model).__name__} reports no map sizes")
        )
    return layer


def map_side(model: nn.Module, name: str | None) -> int | None:
    """Side of the named layer's output map (``None`` if unknown), for the record."""
    sizes = model.map_sizes(model.image_size) if hasattr(model, "map_sizes") and name else {}
    return sizes.get(name)


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
