"""The per-run result record ``results.json``: written atomically, read by sweep aggregation.

A record holds the resolved config (and its hash, to recognise a finished run on rerun), the
status (``running`` / ``complete`` / ``failed`` / ``interrupted``: stopped by a signal, resumable),
metrics, timings, the device, package versions, the git commit and the seed. Writes go to a
temporary file in the same directory and are moved into place with ``os.replace``, so a reader
never sees half a record and a crash never destroys the previous one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from diffcomp.files import atomic_path

RECORD_NAME = "results.json"
SCHEMA_VERSION = 1
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


def new_record(resolved: dict, overrides: list[str], seed: int | None) -> dict:
    return {
        "schema": SCHEMA_VERSION,
        "status": "running",
        "config_hash": config_hash(resolved),
        "overrides": overrides,
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
