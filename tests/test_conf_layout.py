"""The layout rules of conf/: no empty files, per-experiment scale files optional, each sweep key declared once.

An experiment is ``conf/experiment/<name>.yaml`` over the shared ``conf/scale/common/<scale>.yaml``; its own
``conf/scale/<name>/<scale>.yaml`` is optional and holds only what differs at that scale. A swept key lives in
exactly one of the files that compose an experiment at a scale: the experiment file when the key is swept the same
at every scale, else the scale file of each scale that sweeps it."""

from __future__ import annotations

import shutil

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from support import REPO

CONF = REPO / "conf"
SCALES = ("smoke", "cpu", "paper")
ALL_EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def content_lines(path) -> list[str]:
    """The lines of a config file that are neither blank nor comments (``# @package`` included)."""
    return [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def composing_files(experiment: str, scale: str, conf=None) -> list:
    """The files of ``conf/`` that ``experiment=<experiment> scale=<scale>`` merges, in the order Hydra merges them
    (read from the experiment's defaults list: ``_self_``, other experiments, ``[optional] /scale/<group>``)."""
    conf = conf or CONF
    path = conf / "experiment" / f"{experiment}.yaml"
    defaults = OmegaConf.to_container(OmegaConf.load(path)).get("defaults", ["_self_"])
    files = []
    for entry in defaults:
        if entry == "_self_":
            files.append(path)
        elif isinstance(entry, str):  # another experiment, e.g. paper_fast's `- paper`
            files.extend(composing_files(entry, scale, conf))
        else:
            ((key, value),) = entry.items()
            optional, _, group = key.rpartition(" ")
            if not group.startswith("/scale/"):
                continue  # `override /data: ...` and the like select group options, which declare no sweep
            assert value == "${scale}", f"{path.name}: {key} must follow the scale, not {value}"
            scale_file = conf / group.removeprefix("/").split("@")[0] / f"{scale}.yaml"
            if scale_file.exists():
                files.append(scale_file)
            else:
                assert optional == "optional", f"{path.name}: {key} is missing at scale={scale} and not optional"
    return files


def declared_sweep(path) -> dict:
    params = OmegaConf.select(OmegaConf.load(path), "hydra.sweeper.params")
    return dict(OmegaConf.to_container(params)) if params is not None else {}


def composed_sweep(experiment: str, scale: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={experiment}", f"scale={scale}"], return_hydra_config=True)
    return dict(cfg.hydra.sweeper.params or {})


def test_no_config_file_is_empty_of_settings():
    files = sorted(p for p in CONF.rglob("*") if p.is_file())
    assert files
    empty = [str(p.relative_to(CONF)) for p in files if not content_lines(p)]
    assert not empty, f"files with nothing but comments or `# @package`: {empty}"


def test_scale_folders_are_common_or_an_experiments_and_hold_only_scales():
    for folder in (p for p in (CONF / "scale").iterdir() if p.is_dir()):
        assert folder.name == "common" or folder.name in ALL_EXPERIMENTS, (
            f"conf/scale/{folder.name}: no such experiment"
        )
        names = sorted(p.name for p in folder.iterdir())
        assert set(names) <= {f"{s}.yaml" for s in SCALES}, f"conf/scale/{folder.name}: {names}"
    assert sorted(p.name for p in (CONF / "scale" / "common").iterdir()) == sorted(f"{s}.yaml" for s in SCALES)


@pytest.mark.parametrize("experiment", ALL_EXPERIMENTS)
def test_each_swept_key_is_declared_in_exactly_one_file_and_the_sweep_is_their_union(experiment):
    for scale in SCALES:
        declared: dict[str, str] = {}
        where: dict[str, str] = {}
        for path in composing_files(experiment, scale):
            for key, value in declared_sweep(path).items():
                assert key not in where, (
                    f"experiment={experiment} scale={scale}: {key} is swept in both {where[key]} and "
                    f"{path.relative_to(CONF)}; declare it once (in the experiment file when it is the same at every scale)"
                )
                where[key] = str(path.relative_to(CONF))
                declared[key] = str(value)  # the sweeper's params are typed dict[str, str]
        # The files found are all that declare the sweep, and a key of the experiment file takes effect at every scale.
        composed = composed_sweep(experiment, scale)
        assert list(composed.items()) == list(declared.items()), f"experiment={experiment} scale={scale}"


def test_a_new_experiment_needs_no_scale_files(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    # rim_compositions, renamed: its experiment file and nothing else (no conf/scale/brand_new/).
    text = (CONF / "experiment" / "rim_compositions.yaml").read_text()
    assert "optional /scale/rim_compositions@_global_" in text
    (conf / "experiment" / "brand_new.yaml").write_text(text.replace("rim_compositions", "brand_new"))
    assert not (conf / "scale" / "brand_new").exists()
    for scale in SCALES:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            cfg = compose("config", overrides=["experiment=brand_new", f"scale={scale}"], return_hydra_config=True)
        common = OmegaConf.load(conf / "scale" / "common" / f"{scale}.yaml")
        assert cfg.data.size == common.data.size and cfg.train.steps == common.train.steps
        assert dict(cfg.hydra.sweeper.params) == {"data": "stripes,stripes_rim"}  # the experiment's own sweep
