"""``python -m sweeper_app.app -m ...`` (from ``tests/``): prints and returns its parameters."""

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from diffcomp.config.errors import ConfigError


def validate(cfg: DictConfig) -> dict:
    """The sweeper's validator: what a real app checks before launching, on two fields."""
    if not 0 < cfg.b < 1:
        raise ConfigError("b", cfg.b, "a number in (0, 1)")
    if cfg.a > 2:
        raise ConfigError("a", cfg.a, "an integer <= 2")
    return {"a": cfg.a, "b": cfg.b, "c": cfg.c}


class Checked:
    """A component that checks its own argument when built, as diffcomp's datamodules do."""

    def __init__(self, b: float):
        if not 0 < b < 1:
            raise ConfigError("b", b, "a number in (0, 1)")


def validate_by_building(cfg: DictConfig) -> dict:
    """A validator that builds the job's components (Hydra wraps what their constructors raise)."""
    instantiate({"_target_": "sweeper_app.app.Checked", "b": cfg.b})
    return {"b": cfg.b}


def broken_validate(cfg: DictConfig) -> dict:
    """A validator with a bug: not a verdict on the job."""
    return {"d": cfg.d}


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    print(f"ran a={cfg.a} b={cfg.b} c={cfg.c}")
    return {"a": cfg.a, "b": cfg.b, "c": cfg.c}


if __name__ == "__main__":
    main()
