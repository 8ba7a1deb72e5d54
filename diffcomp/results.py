"""The per-run result record ``results.json``: written atomically, read through :class:`Record`.

A record holds the resolved config (and its hash, to recognise a finished run on rerun), the
status (``running`` / ``complete`` / ``failed`` / ``interrupted``: stopped by a signal, resumable),
the seed (in one place), the values of the job's swept parameters (``params``, resolved by the job:
readers never parse override strings), metrics, their history, timings, the dataset resolved per
axis (``data``), the training budget (``budget``), the device, package versions and the git commit.
Writes go to a temporary file in the same directory and are moved into place with ``os.replace``, so
a reader never sees half a record and a crash never destroys the previous one.

Every reader (aggregation, status, figures, the API) gets records from :func:`load_records` /
:func:`load_record_of` as :class:`Record` objects; a schema-1 record (before ``params``, ``data``
and ``budget``) is upgraded on reading.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from diffcomp.files import atomic_path

RECORD_NAME = "results.json"
SCHEMA_VERSION = 2
PACKAGES = (
    "diffcomp",
    "torch",
    "lightning",
    "hydra-core",
    "omegaconf",
    "wandb",
    "numpy",
    "scipy",
    "scikit-learn",
    "gudhi",
    "umap-learn",
    "submitit",
)


def config_hash(resolved: dict) -> str:
    """A stable digest of a resolved config, ignoring keys that don't change the result."""
    ignored = {"dry_run", "logger", "trainer"}
    payload = {k: v for k, v in resolved.items() if k not in ignored}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):  # not every package is installed
            versions[name] = metadata.version(name)
    versions["python"] = platform.python_version()
    return versions


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the code that ran (with ``-dirty`` when the tree had changes), if in a checkout."""
    where = start or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def device_name(device) -> str:
    """How a record names the device a run used: the GPU's model, or the CPU and its thread count."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({torch.get_num_threads()} threads)"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` so that readers see either the old or the new file, never a torn one
    (:func:`diffcomp.files.atomic_path`: a unique temporary name, then a rename)."""
    text = json.dumps(payload, indent=2, sort_keys=False, default=_json_default, allow_nan=True) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


class UnreadableRecord(ValueError):
    """A ``results.json`` that exists but cannot be read as a record (truncated, not JSON, not an object)."""


def load_record(out_dir: Path) -> dict | None:
    """The record in ``out_dir``, None when there is none; raises :class:`UnreadableRecord` for a broken one."""
    path = Path(out_dir) / RECORD_NAME
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise UnreadableRecord(f"{path}: {type(error).__name__}: {error}") from error
    if not isinstance(record, dict):
        raise UnreadableRecord(f"{path}: a JSON {type(record).__name__}, not an object")
    return record


def read_record(out_dir: Path) -> dict | None:
    """The record in ``out_dir``, or None when absent or unreadable (a corrupt record counts as absent)."""
    try:
        return load_record(out_dir)
    except UnreadableRecord:
        return None


def is_complete(record: dict | None, digest: str) -> bool:
    """True when ``record`` is a finished run of the config with hash ``digest``."""
    return bool(record) and record.get("status") == "complete" and record.get("config_hash") == digest


def new_record(resolved: dict, overrides: list[str], seed: int | None, params: dict | None = None) -> dict:
    """A ``running`` record; ``params``: the job's swept parameters with their resolved values."""
    return {
        "schema": SCHEMA_VERSION,
        "status": "running",
        "config_hash": config_hash(resolved),
        "overrides": overrides,
        "params": dict(params or {}),
        "seed": seed,
        "started": now(),
        "finished": None,
        "metrics": {},
        "timings": {},
        "device": None,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "host": platform.node(),
        "pid": os.getpid(),
        "config": resolved,
    }


def gate_result(gate: dict | None, metrics: dict) -> dict | None:
    """The record's ``gate``: whether the model learned its own training distribution, the level its
    experiment asks before its claim is read (``{"metric": "eval/train_score", "threshold": 0.9}``).
    ``passed`` is None when the job has no such metric (nothing trained, a theory task)."""
    if not gate or not gate.get("metric"):
        return None
    value = metrics.get(gate["metric"])
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    threshold = float(gate["threshold"])
    return {
        **gate,
        "threshold": threshold,
        "value": value if number else None,
        "passed": value >= threshold if number else None,
    }


# ---------------------------------------------------------------------------------------------
# reading: one record type


def _dig(mapping: dict, dotted: str, default=None):
    """``mapping["a"]["b"]`` for ``"a.b"``; ``default`` where a level is missing."""
    for part in dotted.split("."):
        if not isinstance(mapping, dict) or part not in mapping:
            return default
        mapping = mapping[part]
    return mapping


@dataclass
class Record:
    """One job's ``results.json`` as every reader sees it.

    ``seed`` is the job's seed; ``params`` the values of the parameters its launch set (``data.sigma``,
    ``lambda``, a config group's choice such as ``data``); ``data`` the dataset resolved per axis
    (``sigma_x``, ``increment_y``, ``fraction``, ``holdout`` with its bounds and width, the image
    counts ``images``, ``2d`` ..., ``held_out_2d_fraction``); ``budget`` the training limits (``steps``,
    ``max_steps``, ``max_epochs``, ``loss_window``). Task-specific sections (``probe``, ``per_count``,
    ``locality``, ``per_seed`` ...) are read with :meth:`section`; ``raw`` is the file as written.
    """

    raw: dict
    job_dir: Path | None = None
    data: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict, job_dir: Path | None = None) -> Record:
        if int(raw.get("schema") or 1) < 2:
            return cls(raw, job_dir, *_upgrade_v1(raw))
        return cls(
            raw, job_dir, dict(raw.get("data") or {}), dict(raw.get("budget") or {}), dict(raw.get("params") or {})
        )

    @property
    def schema(self) -> int:
        return int(self.raw.get("schema") or 1)

    @property
    def status(self) -> str | None:
        return self.raw.get("status")

    @property
    def error(self) -> str | None:
        return self.raw.get("error")

    @property
    def seed(self) -> int | None:
        """The job's seed: the record's (every schema writes it), else its config's."""
        seed = self.raw.get("seed")
        return self.config.get("seed") if seed is None else seed

    @property
    def config(self) -> dict:
        return self.raw.get("config") or {}

    @property
    def metrics(self) -> dict:
        return self.raw.get("metrics") or {}

    @property
    def history(self) -> list[dict]:
        return list(self.raw.get("history") or [])

    @property
    def analysis_history(self) -> list[dict]:
        return list(self.raw.get("analysis_history") or [])

    @property
    def timings(self) -> dict:
        return self.raw.get("timings") or {}

    @property
    def gate(self) -> dict:
        """The validity gate the job recorded (``metric``, ``threshold``, ``value``, ``passed``); {} if none."""
        return self.section("gate")

    def section(self, name: str) -> dict:
        """A task-specific section of the record (``probe``, ``per_count``, ``locality`` ...); {} if absent."""
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}

    def setting(self, dotted: str, default=None):
        """A value of the job's resolved config (``"train.batch_size"``)."""
        return _dig(self.config, dotted, default)

    def get(self, key: str, default=None):
        """A top-level field of the file as written (``device``, ``git_commit`` ...)."""
        return self.raw.get(key, default)


def _upgrade_v1(raw: dict) -> tuple[dict, dict, dict]:
    """``(data, budget, params)`` of a schema-1 record, which kept a ``dataset`` summary (counts, the
    budget, sigma and d as a number or an [x, y] pair) and the override strings only."""
    dataset = dict(raw.get("dataset") or {})
    config_data = (raw.get("config") or {}).get("data") or {}
    budget = {k: dataset.pop(k) for k in ("max_steps", "max_epochs", "steps", "loss_window") if k in dataset}

    def per_axis(name: str, key: str) -> tuple:
        """(x, y) of a per-axis setting: the summary's [x, y] pair, else the config's ``<name>_x`` /
        ``<name>_y``, falling back on ``<name>`` (or the summary's single number)."""
        summary = dataset.get(key)
        if isinstance(summary, list) and len(summary) == 2:
            return tuple(summary)
        both = config_data.get(name, summary)
        return tuple(both if config_data.get(f"{name}_{a}") is None else config_data[f"{name}_{a}"] for a in "xy")

    sigma, increment = per_axis("sigma", "sigma"), per_axis("increment", "d")
    holdout = dict(config_data.get("holdout") or {}) or None
    if holdout and holdout.get("type") in (None, "none"):
        holdout = None
    if (
        holdout
        and holdout.get("width") is None
        and holdout.get("type") in ("band", "square")
        and not holdout.get("area")
    ):
        # what schema-1 code did for an unset width (diffcomp.data.regions at the time): 6 px at N=32, scaled
        holdout["width"] = 6 * int(config_data.get("size") or dataset.get("N") or 32) / 32
    data = {
        "name": dataset.pop("data", config_data.get("name")),
        "kind": config_data.get("kind"),
        "size": dataset.pop("N", config_data.get("size")),
        "sigma_x": sigma[0],
        "sigma_y": sigma[1],
        "increment_x": increment[0],
        "increment_y": increment[1],
        "fraction": dataset.pop("lambda", None),
        "subsample_seed": config_data.get("subsample_seed"),
        "parts": config_data.get("parts"),
        "holdout": holdout,
    }
    dataset.pop("sigma", None)
    dataset.pop("d", None)
    data.update(dataset)  # images, per-class counts, held_out_2d_fraction, scene counts
    return data, budget, _v1_params(raw.get("overrides") or [])


def _v1_params(overrides: list[str]) -> dict[str, Any]:
    """A schema-1 record's parameters, read from its override strings (it kept nothing else)."""
    params = {}
    for override in overrides:
        key, sep, text = str(override).partition("=")
        if sep and not key.startswith("~"):
            params[key.lstrip("+")] = parse_value(text)
    return params


def parse_value(text: str) -> Any:
    """An override's value as a number or bool when it reads as one (``0.1`` -> 0.1), else the string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    return text


def load_record_of(job_dir: Path) -> Record | None:
    """The job's record as a :class:`Record`; None when absent; raises :class:`UnreadableRecord`."""
    raw = load_record(job_dir)
    return None if raw is None else Record.from_dict(raw, Path(job_dir))


def record_paths(sweep_dir: str | Path) -> list[Path]:
    """Every ``results.json`` under ``sweep_dir`` (any depth), in path order; hidden folders
    (``.submitit`` ...) hold none of ours."""
    root = Path(sweep_dir)
    return [
        path
        for path in sorted(root.rglob(RECORD_NAME))
        if not any(part.startswith(".") for part in path.relative_to(root).parts[:-1])
    ]


def load_records(sweep_dir: str | Path, status: str | None = "complete") -> list[Record]:
    """Every readable record under ``sweep_dir`` with ``status`` (any, when None), in path order;
    unreadable ones are left out (:func:`diffcomp.sweeps.aggregate.collect` lists them)."""
    out = []
    for path in record_paths(sweep_dir):
        try:
            record = load_record_of(path.parent)
        except UnreadableRecord:
            continue
        if record is not None and (status is None or record.status == status):
            out.append(record)
    return out
