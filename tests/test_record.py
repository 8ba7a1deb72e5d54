"""The one record type (diffcomp.results.Record): what a job writes, what every reader gets, and
schema-1 records upgraded on reading."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from support import compose_config

from diffcomp.results import Record, load_records

ROOT = Path(__file__).resolve().parent.parent
DOCS_DATA = ROOT / "docs" / "data"


def test_a_jobs_parameters_are_read_back_from_its_composed_config():
    from hydra.core.hydra_config import HydraConfig

    from diffcomp.tasks import swept_values

    overrides = ["data=sos", "data.sigma=0.5", "lambda=0.25", "+extra=3", "~analysis", "seed=2"]
    cfg = compose_config(overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        values = swept_values(cfg, overrides)
    finally:
        HydraConfig.instance().cfg = None
    # a group's choice by name, values as the config holds them (typed), deletions set nothing
    assert values == {"data": "sos", "data.sigma": 0.5, "lambda": 0.25, "extra": 3, "seed": 2}


def test_a_schema_2_record_is_read_as_written(tmp_path):
    raw = {
        "schema": 2,
        "status": "complete",
        "seed": 3,
        "params": {"lambda": 0.5},
        "data": {"size": 16, "sigma_x": 0.3, "sigma_y": 0.3},
        "budget": {"steps": 100},
        "metrics": {"eval/acc": 0.5},
        "per_count": {"1": {"match": 1.0}},
        "config": {"train": {"batch_size": 32}, "seed": 7},
    }
    record = Record.from_dict(raw, tmp_path)
    assert (record.seed, record.params, record.budget, record.data["sigma_x"]) == (
        3,
        {"lambda": 0.5},
        {"steps": 100},
        0.3,
    )
    assert record.setting("train.batch_size") == 32 and record.setting("train.nope", "-") == "-"
    assert record.section("per_count") == {"1": {"match": 1.0}} and record.section("probe") == {}
    assert record.metrics == {"eval/acc": 0.5} and record.job_dir == tmp_path


def test_a_schema_1_record_is_upgraded_per_axis():
    raw = {
        "seed": None,
        "overrides": ["data.increment_x=0.5", "seed=1"],
        "config": {"seed": 1, "data": {"name": "bump", "size": 16, "sigma": 1.0, "increment": 1.0, "increment_x": 0.5}},
        "dataset": {
            "data": "bump",
            "N": 16,
            "sigma": 1.0,
            "d": [0.5, 1.0],
            "images": 480,
            "2d": 480,
            "lambda": 1.0,
            "max_steps": 300,
            "max_epochs": -1,
            "steps": 300,
            "loss_window": 30,
        },
    }
    record = Record.from_dict(raw)
    assert record.seed == 1  # the config's when the record's own is null
    assert record.params == {"data.increment_x": 0.5, "seed": 1}
    assert record.budget == {"max_steps": 300, "max_epochs": -1, "steps": 300, "loss_window": 30}
    data = record.data
    assert (data["increment_x"], data["increment_y"], data["sigma_x"], data["sigma_y"]) == (0.5, 1.0, 1.0, 1.0)
    assert (data["name"], data["size"], data["images"], data["2d"], data["fraction"]) == ("bump", 16, 480, 480, 1.0)


def test_a_schema_1_square_without_a_width_gets_the_width_it_was_made_with():
    raw = {"config": {"data": {"size": 16, "holdout": {"type": "square", "place": "exterior"}}}, "dataset": {}}
    assert Record.from_dict(raw).data["holdout"]["width"] == 3.0  # 6 px at N=32, scaled: what schema-1 code did


@pytest.mark.parametrize("folder", sorted(p.name for p in DOCS_DATA.iterdir() if p.is_dir()))
def test_the_committed_records_load(folder):
    records = load_records(DOCS_DATA / folder)
    assert records, folder
    for record in records:
        assert record.data["size"] and record.data["images"] and record.budget["steps"] > 0
        assert isinstance(record.seed, int) and record.data["sigma_x"] and record.data["increment_y"]


def _reads_overrides(path: Path) -> list[int]:
    """Lines of ``path`` that read a record's override strings (``x["overrides"]`` / ``x.get("overrides")``)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "overrides":
            lines.append(node.lineno)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "overrides"
        ):
            lines.append(node.lineno)
    return lines


def test_no_reader_parses_an_override_string():
    # the writers (results, tasks) and the sweep plan (jobs.json lists each job's overrides to relaunch it)
    allowed = {"diffcomp/results.py", "diffcomp/tasks.py", "diffcomp/sweeps/plan.py", "diffcomp/sweeps/status.py"}
    found = {}
    for path in [*ROOT.joinpath("diffcomp").rglob("*.py"), *ROOT.joinpath("experiments").rglob("*.py")]:
        name = path.relative_to(ROOT).as_posix()
        if name not in allowed and (lines := _reads_overrides(path)):
            found[name] = lines
    assert not found, found
    assert "parse_overrides" not in json.dumps([p.read_text() for p in ROOT.joinpath("experiments").rglob("*.py")])
