"""The README's first command, measured: the quick default must reach 60 % accuracy (slow, minutes)."""

import json
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_quick_default_reaches_sixty_percent(tmp_path):
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffcomp.run",
            f"hydra.run.dir={tmp_path}",
            "logger=csv",
            "trainer.enable_progress_bar=false",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "results.json").read_text())
    print(f"quick default: accuracy {record['metrics']['eval/acc']:.3f} in {time.perf_counter() - started:.0f} s")
    assert record["metrics"]["eval/acc"] >= 0.60


@pytest.mark.slow
def test_benchmark_script_prints_its_table():
    result = subprocess.run(
        [sys.executable, "benchmarks/benchmark.py", "--steps", "2", "--samples", "8", "--skip-ddpm"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| training images/s |" in result.stdout and "DDIM-100" in result.stdout
