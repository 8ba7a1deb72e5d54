"""One job over training: its evaluations and analyses indexed by step, its analysis arrays, and the
``scale=`` its sweep ran at (for figure titles)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffcomp.eval.samples_file import load_sample_arrays
from diffcomp.results import Record, load_records

ANALYSIS_ARRAYS = "analysis/step_*/arrays.npz"  # the analysis callback's arrays, one per analysed step


def scale_of(sweep_dir: Path, default: str = "?", from_records: bool = False) -> str:
    """The ``scale=`` choice saved in the sweep's ``multirun.yaml``, for figure titles.

    ``from_records``: fall back on the first record's ``scale`` parameter (a sweep launched without
    Hydra's multirun file); ``default`` when neither says.
    """
    from omegaconf import OmegaConf

    try:
        scale = OmegaConf.select(OmegaConf.load(Path(sweep_dir) / "multirun.yaml"), "hydra.runtime.choices.scale")
    except Exception:
        scale = None
    if not scale and from_records:
        scale = next((s for r in load_records(sweep_dir) if (s := r.params.get("scale")) is not None), None)
    return str(scale or default)


def by_step(entries) -> dict[int, dict]:
    """A record's ``history`` / ``analysis_history`` list keyed by step (the last entry of a step wins)."""
    return {int(e["step"]): e for e in entries or [] if isinstance(e, dict) and e.get("step") is not None}


def series(entries: dict[int, dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of ``key`` over ``by_step`` entries, skipping steps where it is not a number."""
    points = [(s, e[key]) for s, e in sorted(entries.items()) if isinstance(e.get(key), (int, float))]
    if not points:
        return np.empty(0), np.empty(0)
    return np.array([p[0] for p in points], float), np.array([p[1] for p in points], float)


def last_file(job_dir: Path, pattern: str) -> Path | None:
    """The last of a job's files matching ``pattern`` (zero-padded steps sort in time order)."""
    found = sorted(Path(job_dir).glob(pattern))
    return found[-1] if found else None


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of an ``.npz`` file, read at once; None when it is missing or unreadable (partial sweeps).
    The same reader as the evaluation's sample arrays (:func:`diffcomp.eval.samples_file.load_sample_arrays`)."""
    return load_sample_arrays(path)


class JobHistory:
    """One job's record with its evaluations and analyses indexed by step, and its analysis arrays
    (read once): what the scripts that follow a run over training read. Scripts subclass it to add
    their swept parameters."""

    def __init__(self, record: Record):
        self.record, self.job_dir = record, Path(record.job_dir)
        self.seed = int(record.seed or 0)
        self.images = record.data.get("images")
        self.evals = by_step(record.history)
        self.analyses = by_step(record.analysis_history)
        self._arrays: dict[int, dict | None] = {}

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of ``key`` from the analyses (``repr/*``) or else the evaluations."""
        return series(self.analyses if key.startswith("repr/") else self.evals, key)

    def acc(self, step: int) -> float | None:
        return self.evals.get(step, {}).get("eval/acc")

    def arrays_path(self, step: int) -> Path:
        return self.job_dir / "analysis" / f"step_{step:07d}" / "arrays.npz"

    def arrays(self, step: int) -> dict[str, np.ndarray] | None:
        """The analysis arrays saved at ``step`` (read once), or None when missing or unreadable."""
        if step not in self._arrays:
            self._arrays[step] = load_arrays(self.arrays_path(step))
        return self._arrays[step]

    def array_steps(self) -> list[int]:
        """Analysed steps whose arrays exist on disk."""
        return [s for s in sorted(self.analyses) if self.arrays_path(s).exists()]
