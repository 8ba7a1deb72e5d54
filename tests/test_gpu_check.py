"""The GPU check (benchmarks/gpu_check.sh) end to end on the CPU with its smoke preset: every stage
runs in its own time box and every figure lands in one JSON file and one markdown table under $OUT.
The GPU machine is lent for minutes only, so the script must work the first time it meets one."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_check(out: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "WANDB_MODE": "disabled", "MPLBACKEND": "Agg"}
    return subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def errors_in(node, path="") -> list[str]:
    """Every ``error`` entry anywhere in a figures tree (a measurement that raised)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "error" and value:
                found.append(f"{path}: {value}")
            else:
                found += errors_in(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += errors_in(value, f"{path}[{i}]")
    return found


def test_the_smoke_check_runs_every_stage_and_writes_every_figure(tmp_path):
    done = run_check(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert list(report["stages"]) == ["tests", "benchmark", "packed", "paper_fast"]
    statuses = {name: stage["status"] for name, stage in report["stages"].items()}
    assert statuses["tests"] in ("ok", "skipped: no CUDA"), statuses
    assert all(statuses[name] == "ok" for name in ("benchmark", "packed", "paper_fast")), statuses
    figures = {name: stage["figures"] for name, stage in report["stages"].items()}
    assert errors_in(figures) == []
    # the gpu-marked tests were collected (and skipped without CUDA), not silently absent
    assert len(figures["tests"]["tests"]) >= 3
    # the speed rows: our training path and the plain loop at each batch, sampling both ways
    bench = figures["benchmark"]
    assert [row["batch"] for row in bench["ours"]] == [8, 16]
    assert all(row["images_per_second"] > 0 for row in bench["ours"])
    assert bench["baseline"]["batch"] == 8 and bench["baseline"]["images_per_second"] > 0
    assert bench["sampling"]["ours_ddim100"] > 0 and bench["sampling"]["eager_ddim100"] > 0
    # the packed rows: one per k, each with its aggregate throughput and its ratio to one job
    ks = [row["k"] for row in figures["packed"]["rows"]]
    assert ks == [1, 2] and all(row["vs_one_job"] > 0 for row in figures["packed"]["rows"])
    # the time-to-accuracy curve: one point per evaluation, with the seconds since training began
    curve = figures["paper_fast"]["curve"]
    assert len(curve) == 2 and curve[0]["wall_seconds"] < curve[1]["wall_seconds"]
    markdown = (tmp_path / "gpu_check.md").read_text()
    for heading in ("## Training and sampling", "## Packed quick-scale training", "## Time to accuracy", "## Goals"):
        assert heading in markdown
    assert "error" not in markdown


def test_a_stage_past_its_time_box_is_stopped_and_reported_without_losing_the_report(tmp_path):
    done = run_check(tmp_path, "--only", "benchmark", "--budget", "benchmark=6", timeout=120)
    assert done.returncode == 1  # a timed-out stage fails the check
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["stages"]["benchmark"]["status"] == "timed out after 6 s"
    assert report["stages"]["benchmark"]["seconds"] < 30
    assert report["stages"]["packed"]["status"] == "not run (--only)"
    assert (tmp_path / "gpu_check.md").exists()
