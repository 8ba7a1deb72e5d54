"""The sample arrays an evaluation saves beside its PNG, so figures read tiles, labels and sections
instead of cutting them back out of a picture or rebuilding the training set.

Canvas runs (:class:`~diffcomp.eval.callback.EvaluationCallback`) write ``samples/step_<k:07d>.npz`` at
every evaluation, beside ``samples/step_<k:07d>.png``, holding exactly:

* ``images`` uint8 [K, N, N]: the K tiles the PNG shows (K = ``grid_size`` or fewer labels), in its
  order, with the PNG's grey levels;
* ``labels`` float32 [K, 2]: each tile's requested ``(mu_x, mu_y)``;
* ``index`` int64 [K]: each tile's position among the evaluation labels;
* ``section_<name>`` bool [K] per evaluation section of the dataset (``id``, ``ood``, ...; none
  when nothing is held out): whether the tile's label lies in it.

The local-scores callback writes :data:`SAMPLES_BY_K_ARRAYS` (see its module docstring) in the same way. This module
is the one place the names live: figure code globs :data:`SAMPLE_ARRAYS` or calls
:func:`sample_arrays_path`, and reads with :func:`load_sample_arrays`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from diffcomp.files import atomic_path

SAMPLE_ARRAYS = "samples/step_*.npz"  # relative to a run directory
SAMPLE_GRID = "samples/step_*.png"
SECTION_PREFIX = "section_"
SAMPLES_BY_K_ARRAYS = "samples_by_k.npz"  # the local-scores grid's arrays, rewritten at every evaluation


def sample_arrays_path(out_dir: str | Path, step: int) -> Path:
    """``<out_dir>/samples/step_<step:07d>.npz``: the arrays of the evaluation at ``step``."""
    return Path(out_dir) / "samples" / f"step_{int(step):07d}.npz"


def sample_grid_path(out_dir: str | Path, step: int) -> Path:
    """``<out_dir>/samples/step_<step:07d>.png``: the picture of the same tiles."""
    return sample_arrays_path(out_dir, step).with_suffix(".png")


def sample_step(path: str | Path) -> int:
    """The training step a ``step_<k>.npz`` (or ``.png``) file belongs to."""
    return int(Path(path).stem.removeprefix("step_"))


def gray_levels(images) -> np.ndarray:
    """Images in [0, 255] (an array [..., N, N]) as the uint8 grey levels a PNG saved from the same
    values with ``imsave(cmap="gray", vmin=0, vmax=255)`` shows: matplotlib's own mapping (256 bins and
    its colour table, neither rounding nor the identity on integers), so arrays and picture agree pixel
    for pixel. Pass the values in the dtype the PNG got (float32 from ``image_grid``): bins are floored."""
    from matplotlib.cm import ScalarMappable

    values = np.asarray(images)
    values = values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float32)
    mappable = ScalarMappable(cmap="gray")
    mappable.set_clim(0.0, 255.0)
    return mappable.to_rgba(values.reshape(-1, values.shape[-1]), bytes=True)[..., 0].reshape(values.shape)


def write_sample_arrays(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write ``arrays`` to ``path`` (npz, uncompressed) atomically: a reader never meets half a file."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a handle: savez adds no second suffix
        np.savez(handle, **arrays)
    return path


def load_sample_arrays(path: str | Path) -> dict[str, np.ndarray] | None:
    """Every array of a sample file, or None when it is missing or unreadable (a run from before the
    arrays were saved, or a damaged file). ``sections(arrays)`` splits out the section masks."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def sections(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``section_<name>`` masks of loaded sample arrays, keyed by section name."""
    return {k.removeprefix(SECTION_PREFIX): v for k, v in arrays.items() if k.startswith(SECTION_PREFIX)}
