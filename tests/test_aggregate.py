"""Sweep aggregation: one row per record, problems reported (failed, unfinished, corrupt), plots drawn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from diffcomp.cli.aggregate import main
from diffcomp.results import Record, write_json_atomic
from diffcomp.sweeps.aggregate import AggregateCallback, aggregate, collect

SIGMAS = (0.1, 0.5, 1.0)
LAMBDAS = (0.1, 0.2, 0.3, 0.4)


def write_record(
    sweep: Path, overrides: list[str], status: str = "complete", acc: float | None = None, **extra
) -> Path:
    out = sweep / ",".join(sorted(overrides))
    record = {
        "status": status,
        "overrides": overrides,
        "seed": 0,
        "metrics": {}
        if acc is None
        else {"eval/acc": acc, "eval/acc_x": min(1.0, acc + 0.1), "train/final_loss": 0.05},
        "timings": {"train_seconds": 1.5, "train_steps": 4},
        "device": "cpu (1 threads)",
        "config": {"logger": {"kind": "csv"}},
        **extra,
    }
    write_json_atomic(out / "results.json", record)
    return out


@pytest.fixture
def sweep(tmp_path) -> Path:
    """A 3 x 4 sigma x lambda grid (Fig. 6e's shape), plus a failed job, a running one and a corrupt record."""
    root = tmp_path / "sweep"
    for s in SIGMAS:
        for lam in LAMBDAS:
            if (s, lam) == (1.0, 0.3):
                continue
            write_record(root, [f"data.sigma={s}", f"lambda={lam}"], acc=round(s * lam, 3))
    write_record(
        root, ["data.sigma=1.0", "lambda=0.3"], status="failed", error="FloatingPointError: training loss became nan"
    )
    write_record(root, ["data.sigma=2.0", "lambda=0.1"], status="running")
    corrupt = root / "data.sigma=2.0,lambda=0.2"
    corrupt.mkdir(parents=True)
    (corrupt / "results.json").write_text('{"status": "complete", "metrics": {"eval/ac')  # torn by hand
    (root / ".submitit" / "12_0").mkdir(parents=True)  # launcher files are not records
    return root


def test_a_schema_1_records_overrides_become_typed_parameters():
    overrides = ["data.sigma=0.5", "lambda=1", "+extra=abc", "flag=true", "~gone", "train.lr=1e+30"]
    assert Record.from_dict({"overrides": overrides}).params == {
        "data.sigma": 0.5,
        "lambda": 1,
        "extra": "abc",
        "flag": True,
        "train.lr": 1e30,
    }


def test_columns_are_the_values_the_job_resolved_never_its_override_strings(tmp_path):
    # schema 2: the job wrote its parameters' values; an override string that says otherwise is not read
    for sigma in (0.1, 0.5):
        params = {"data.sigma": sigma, "data": "bump", "seed": 0}
        write_record(tmp_path, [f"data.sigma={sigma}"], acc=sigma, schema=2, params=params)
        odd = tmp_path / f"odd{sigma}"
        write_record(odd, ["data.sigma=9", "data=sos"], acc=sigma, schema=2, params={**params, "seed": 1})
    write_record(tmp_path / "lists", ["model.channels=[8,8]"], acc=0.3, schema=2, params={"model.channels": [8, 8]})
    table = collect(tmp_path).rows("complete")
    assert table["model.channels"].dropna().tolist() == ["[8, 8]"]  # a list a job set is one table cell
    table = table[table["model.channels"].isna()]
    assert sorted(table["data.sigma"]) == [0.1, 0.1, 0.5, 0.5] and set(table["data"]) == {"bump"}
    assert sorted(table["seed"]) == [0, 0, 1, 1]


def test_partial_and_corrupt_records_are_reported_and_the_rest_tabulated(sweep, tmp_path):
    result = aggregate(sweep, out=tmp_path / "agg", wandb=False)
    table = pd.read_csv(result["table"])
    assert len(table) == 14  # 11 complete + failed + running + corrupt: one row per record
    assert table["status"].value_counts().to_dict() == {"complete": 11, "failed": 1, "running": 1, "unreadable": 1}
    done = table[table["status"] == "complete"]
    assert done.set_index(["data.sigma", "lambda"]).loc[(0.5, 0.2), "eval/acc"] == pytest.approx(0.1)
    assert {"eval/acc_x", "train/final_loss", "timings/train_seconds", "device", "output_dir"} <= set(table.columns)
    summary = result["summary"]
    assert "14 run(s): 11 complete, 1 failed, 1 running, 1 unreadable" in summary
    assert "FAILED" in summary and "data.sigma=1.0,lambda=0.3: FloatingPointError" in summary
    assert "UNFINISHED" in summary and "data.sigma=2.0,lambda=0.1: running" in summary
    assert "UNREADABLE" in summary and "data.sigma=2.0,lambda=0.2/results.json" in summary
    assert "swept: lambda (4 values), data.sigma (3 values)" in summary
    assert (tmp_path / "agg" / "summary.txt").read_text().strip() == summary


def test_standard_plots_choose_the_swept_parameters(sweep, tmp_path):
    result = aggregate(sweep, out=tmp_path / "agg", wandb=False)
    names = sorted(p.name for p in result["plots"])
    # x: the parameter with most values (lambda); one line per sigma; the heat map is sigma x lambda.
    assert names == ["eval_acc_data.sigma_x_lambda.png", "eval_acc_vs_lambda.png"]
    assert all(p.stat().st_size > 5000 for p in result["plots"])


def test_cli_options_pick_metric_axes_and_output(sweep, tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                str(sweep),
                "--metric",
                "eval/acc_x",
                "--x",
                "data.sigma",
                "--hue",
                "lambda",
                "--out",
                str(out),
                "--no-wandb",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "eval/acc_x (mean) by lambda x data.sigma" in printed and "UNREADABLE" in printed
    assert (out / "eval_acc_x_vs_data.sigma.png").exists() and (out / "eval_acc_x_lambda_x_data.sigma.png").exists()
    with pytest.raises(SystemExit, match="--x nope"):
        main([str(sweep), "--x", "nope", "--out", str(out), "--no-wandb"])


def test_callback_never_fails_the_sweep(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    write_record(tmp_path, ["lambda=0.5"], acc=0.5)
    config = OmegaConf.create({"dry_run": False, "hydra": {"sweep": {"dir": str(tmp_path)}}})

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("diffcomp.sweeps.aggregate.aggregate", explode)
    AggregateCallback().on_multirun_end(config=config)  # logs a warning, raises nothing
    monkeypatch.undo()
    AggregateCallback().on_multirun_end(config=config)
    assert (tmp_path / "aggregate" / "results.csv").exists()
