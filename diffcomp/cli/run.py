"""``diffcomp-run`` / ``python -m diffcomp.run [overrides]`` (add ``-m`` for a sweep).

Kept thin on purpose: Hydra composes the config and hands it to importable code, so submitit can
pickle the task function and no CUDA work happens in the launching process. Before Hydra starts,
a config-group choice that does not exist (``experiment=nope``) is one line naming it and the
choices there are, exit status 2 (Hydra's own report is a page, with its search path).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

import diffcomp.config  # noqa: F401  (registers the resolvers conf/ uses, e.g. in sweep directory names)
from diffcomp.config.paths import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def _app(cfg: DictConfig) -> dict | None:
    from diffcomp.cli.errors import config_errors_as_exit
    from diffcomp.tasks import run_job

    with config_errors_as_exit():
        return run_job(cfg)


def unknown_group_choice(args: list[str]) -> str | None:
    """The first ``group=name`` among the command-line overrides whose ``conf/<group>/<name>.yaml``
    does not exist, as a message naming what does (None: all exist). Sweeps ``group=a,b`` are checked
    value by value; sweep functions (``choice(...)``), nested groups (``hydra/launcher=...``) and
    non-group keys are left to Hydra."""
    for arg in args:
        if arg.startswith(("-", "~")) or "=" not in arg:
            continue
        key, _, value = arg.lstrip("+").partition("=")
        folder = CONFIG_DIR / key
        if "/" in key or "." in key or "(" in value or key == "hydra" or not folder.is_dir():
            continue
        allowed = sorted(p.stem for p in folder.glob("*.yaml"))
        for name in (v.strip().strip("'\"") for v in value.split(",")):
            if name not in allowed and name != "null":
                return f"{key}={name}: there is no such {key}; allowed: {', '.join(allowed)}"
    return None


def main() -> dict | None:
    from diffcomp.cli.errors import EXIT_CONFIG_ERROR

    problem = unknown_group_choice(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_CONFIG_ERROR)
    return _app()


if __name__ == "__main__":
    main()
