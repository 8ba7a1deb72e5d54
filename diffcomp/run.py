"""Command-line entry: ``python -m diffcomp.run [overrides]`` (add ``-m`` for a sweep).

Kept thin on purpose: Hydra composes the config and hands it to importable code, so submitit can
pickle the task function and no CUDA work happens in the launching process.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

import diffcomp.config  # noqa: F401  (registers the resolvers conf/ uses, e.g. in sweep directory names)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> dict | None:
    from diffcomp.tasks import run_job

    return run_job(cfg)


if __name__ == "__main__":
    main()
