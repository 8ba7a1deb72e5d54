"""Writing a file so that no reader, crash or second writer ever meets half of it.

Every file a job writes (its record, checkpoints, PNGs, arrays) goes to a unique hidden temporary
name in its own directory (``.<name>.<random><suffix>``: the suffix kept, so writers that infer the
format from it still work, and globs such as ``step_*.png`` never see it), is flushed to disk, then
renamed onto its real name with ``os.replace``, which is atomic on POSIX file systems. A reader sees
the old file or the new one; a writer killed mid-write leaves the old one and a stray temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path, keep_previous: str | Path | None = None) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; when the block ends without an error, move it onto
    ``path`` (the file the block wrote there, or an empty one), else delete it and leave ``path`` alone.

    ``keep_previous``: first move the file ``path`` holds (if any) to this name, so the last good
    version survives until the new one is complete (checkpoint rotation). The file gets the
    permissions of any file the user creates (``0666 & ~umask``, typically group-readable), not
    ``mkstemp``'s private 0600, so a lab can share a sweep directory.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    tmp, moved = Path(name), False
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        yield tmp
        _fsync(tmp)
        if keep_previous is not None:
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, keep_previous)
        os.replace(tmp, path)
        moved = True
    finally:
        if not moved:
            tmp.unlink(missing_ok=True)


def save_figure(fig, path: str | Path, dpi: int) -> Path:
    """``fig.savefig`` through :func:`atomic_path` (a matplotlib Figure, PNG by the path's suffix)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or None)
    return path
