"""``diffcomp-preview [overrides]``: draw a dataset's ``dataset.png`` without training (Fig. 9e-h style).

diffcomp-preview data=sos_stripes data.increment=1
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

import diffcomp.config  # noqa: F401
from diffcomp.config.paths import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from diffcomp.cli.errors import config_errors_as_exit

    with config_errors_as_exit():
        datamodule = instantiate(cfg.data, _convert_="all")
    out = Path(HydraConfig.get().runtime.output_dir) / "dataset.png"
    datamodule.save_preview(out)
    print(f"{datamodule.describe()}\npreview: {out}")


if __name__ == "__main__":
    main()
