"""The samples an evaluation saved as arrays (``samples/step_<k>.npz``: the grid's tiles, the labels
they were asked for, their evaluation sections), and the panels figures draw from them.

Figures read these arrays, never the PNG grid: what a tile shows and which label it was asked for
come from the evaluation itself, so no layout constant or training set is rebuilt here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffcomp.eval.samples_file import SAMPLE_ARRAYS, load_sample_arrays, sample_step
from diffcomp.eval.samples_file import sections as section_masks
from diffcomp.report.history import last_file


@dataclass
class SampleTiles:
    """One evaluation's saved tiles: ``images`` [K, N, N] in 0..255, ``labels`` [K, 2] requested
    (mu_x, mu_y), ``sections`` name -> bool [K], and the evaluation's ``step``."""

    images: np.ndarray
    labels: np.ndarray
    sections: dict[str, np.ndarray]
    step: int

    @classmethod
    def read(cls, path: Path) -> SampleTiles | None:
        """The tiles of one ``step_<k>.npz``; None when missing or unreadable."""
        arrays = load_sample_arrays(path)
        if arrays is None or "images" not in arrays or "labels" not in arrays:
            return None
        masks = {name: mask.astype(bool) for name, mask in section_masks(arrays).items()}
        return cls(arrays["images"], arrays["labels"], masks, sample_step(path))

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def __len__(self) -> int:
        return len(self.images)

    def grid(self, columns: int = 8) -> np.ndarray:
        """All tiles as one picture, as the evaluation's PNG shows them (in [0, 1])."""
        import torch

        from diffcomp.data.render import image_grid

        return image_grid(torch.as_tensor(self.images), columns).numpy() / 255.0

    def tile_origin(self, slot: int, columns: int = 8) -> tuple[int, int]:
        """(row, column) pixel of tile ``slot``'s top-left corner in :meth:`grid`."""
        r, c = divmod(slot, columns)
        return r * (self.size + 1), c * (self.size + 1)


def last_tiles(job_dir: Path) -> SampleTiles | None:
    """The tiles of the job's last evaluation, None when it saved none."""
    path = last_file(job_dir, SAMPLE_ARRAYS)
    return None if path is None else SampleTiles.read(path)


def has_tiles(job_dir: Path) -> bool:
    return last_file(job_dir, SAMPLE_ARRAYS) is not None


def choose_tiles(
    n_tiles: int, sections: dict[str, np.ndarray] | None, want: Iterable[str], wanted: int
) -> list[tuple[int, str]]:
    """``wanted`` tile indices shared out over the sections in ``want`` (as evenly as their sizes
    allow, each section's picks spread over it), tagged with their section and grouped by section;
    evenly spaced untagged tiles when the sections are unknown."""
    if not sections:
        idx = np.linspace(0, n_tiles - 1, min(wanted, n_tiles)).round().astype(int)
        return [(int(i), "") for i in dict.fromkeys(idx.tolist())]
    pools, seen = {}, set()
    for s in want:  # a tile belongs to the first wanted section that holds it
        if s in sections:
            pools[s] = [int(i) for i in np.flatnonzero(sections[s][:n_tiles]) if int(i) not in seen]
            seen.update(pools[s])
    quota = dict.fromkeys(pools, 0)
    while sum(quota.values()) < wanted and any(quota[s] < len(pool) for s, pool in pools.items()):
        for s, pool in pools.items():
            if quota[s] < len(pool) and sum(quota.values()) < wanted:
                quota[s] += 1
    chosen = []
    for s, pool in pools.items():
        if quota[s]:
            chosen += [
                (pool[k], s)
                for k in dict.fromkeys(np.linspace(0, len(pool) - 1, quota[s]).round().astype(int).tolist())
            ]
    return chosen


def held_out_sample_panel(ax, job_dir: Path, title: str) -> bool:
    """The job's last samples as a grid, the tiles requested inside its held-out region (its ``ood``
    section) outlined in red. False when the job saved no samples."""
    from matplotlib.patches import Rectangle

    tiles = last_tiles(job_dir)
    ax.set_xticks([])
    ax.set_yticks([])
    if tiles is None:
        ax.set_title(title + "\n(no samples)", fontsize=8)
        return False
    ax.imshow(tiles.grid(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for slot in np.flatnonzero(tiles.sections.get("ood", np.zeros(len(tiles), bool))):
        y, x = tiles.tile_origin(int(slot))
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), tiles.size, tiles.size, fill=False, ec="red", lw=1.0))
    ax.set_title(title, fontsize=8)
    return True


def grid_aspect(job_dir: Path, columns: int = 8) -> float:
    """Height over width of the job's last sample grid (1 when it saved none)."""
    tiles = last_tiles(job_dir)
    if tiles is None:
        return 1.0
    height, width = tiles.grid(columns).shape
    return height / width
