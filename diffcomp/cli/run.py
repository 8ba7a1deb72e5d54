"""``diffcomp-run`` / ``python -m diffcomp.run [overrides]`` (add ``-m`` for a sweep).

Kept thin on purpose: Hydra composes the config and hands it to importable code, so submitit can
pickle the task function and no CUDA work happens in the launching process.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

import diffcomp.config  # noqa: F401  (registers the resolvers conf/ uses, e.g. in sweep directory names)
from diffcomp.config.paths import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> dict | None:
    from diffcomp.cli.errors import config_errors_as_exit
    from diffcomp.tasks import run_job

    with config_errors_as_exit():
        return run_job(cfg)


if __name__ == "__main__":
    main()
