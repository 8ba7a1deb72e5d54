"""Validity gates: a job records whether its model learned its own training distribution, and a claim
whose models missed the level is inconclusive, never 'not reproduced'."""

from __future__ import annotations

import math

import pytest

from diffcomp.report import gates
from diffcomp.results import Record, gate_result

GATE = {"metric": "eval/train_score", "threshold": 0.9}


def test_a_job_passes_its_gate_at_or_above_the_level():
    assert gate_result(GATE, {"eval/train_score": 0.95}) == {**GATE, "value": 0.95, "passed": True}
    assert gate_result(GATE, {"eval/train_score": 0.9})["passed"] is True
    assert gate_result(GATE, {"eval/train_score": 0.89})["passed"] is False
    assert (
        gate_result(GATE, {})["passed"] is None and gate_result(GATE, {"eval/train_score": math.nan})["value"] is None
    )
    assert gate_result(None, {"eval/train_score": 1.0}) is None  # an experiment without a gate (theory)


def records(*values, threshold=0.9):
    gate = {"metric": "eval/train_score", "threshold": threshold}
    return [
        Record({"schema": 2, "seed": i, "gate": gate_result(gate, {"eval/train_score": v})})
        for i, v in enumerate(values)
    ]


def test_the_gate_over_a_claims_records():
    summary = gates.gate_summary(records(0.95, 0.5, None))
    assert (summary.passed, summary.total, summary.lowest, summary.holds) == (1, 3, 0.5, False)
    assert summary.text() == "eval/train_score >= 0.9: 1/3 passed (lowest 0.50)"
    assert gates.gate_summary(records(0.95, 0.99)).holds
    assert gates.gate_summary([Record({"schema": 2})]) is None
    with pytest.raises(ValueError, match="disagree"):
        gates.gate_summary(records(0.95) + records(0.95, threshold=0.5))


@pytest.mark.parametrize("reading", [gates.REPRODUCED, gates.PARTLY, gates.NOT_REPRODUCED])
def test_a_missed_gate_makes_any_reading_inconclusive(reading):
    assert gates.verdict(reading, gates.gate_summary(records(0.95, 0.2))) == gates.INCONCLUSIVE
    assert gates.verdict(reading, gates.gate_summary(records(0.95, 0.92))) == reading
    assert gates.verdict(reading, None) == reading  # no gate declared: a theory claim
    assert gates.verdict(gates.NOT_RUN, gates.gate_summary(records(0.1))) == gates.NOT_RUN
    with pytest.raises(ValueError, match="unknown verdict"):
        gates.verdict("sort of", None)


def test_the_gate_table_names_every_job_and_marks_a_miss():
    rows = records(0.95, 0.5)
    for r, sigma in zip(rows, (0.3, 1.0)):
        r.params = {"data.sigma": sigma}
    lines = gates.gate_table(rows)
    assert lines[0] == "| job | seed | gate metric | value | level | passed |"
    assert lines[2] == "| data.sigma=0.3 | 0 | eval/train_score | 0.950 | >= 0.9 | yes |"
    assert lines[3] == "| data.sigma=1.0 | 1 | eval/train_score | 0.500 | >= 0.9 | **no** |"
    assert gates.gate_table([Record({"schema": 2})]) == []


def test_a_bad_gate_is_rejected_before_anything_runs():
    from support import compose_config

    from diffcomp.config.errors import ConfigError
    from diffcomp.tasks import validate_job

    with pytest.raises(ConfigError, match=r"gate\.threshold"):
        validate_job(compose_config(["gate.threshold=2", "scale=smoke"]))
    with pytest.raises(ConfigError, match=r"gate\.metric"):
        validate_job(compose_config(["gate.metric=null", "scale=smoke"]))


def test_a_sweeps_figures_come_with_its_gates(tmp_path):
    from diffcomp.results import write_json_atomic
    from diffcomp.sweeps.figures import write_gates

    for i, value in enumerate((0.95, 0.5)):
        gate = gate_result(GATE, {"eval/train_score": value})
        write_json_atomic(
            tmp_path / f"job{i}" / "results.json", {"schema": 2, "status": "complete", "seed": i, "gate": gate}
        )
    text = write_gates(tmp_path, tmp_path / "figures").read_text()
    assert text.startswith("# Validity gate: eval/train_score >= 0.9: 1/2 passed (lowest 0.50); **some models missed")
    assert "| 0.500 | >= 0.9 | **no** |" in text
    assert write_gates(tmp_path / "job0" / "none", tmp_path / "other") is None  # no records, no gate file


def test_a_figure_title_carries_the_gate(tmp_path):
    from matplotlib.figure import Figure

    from diffcomp.report.tables import save_figure

    assert gates.gate_note(records(0.95, 0.99)) == "validity gate eval/train_score >= 0.9: 2/2 passed (lowest 0.95)"
    note = gates.gate_note(records(0.95, 0.4))
    assert note.endswith("1/2 passed (lowest 0.40): claims resting on the models below it are inconclusive")
    assert gates.gate_note([Record({"schema": 2})]) is None
    fig = Figure()
    fig.suptitle("Fig. 6e")
    save_figure(fig, tmp_path / "f.png", note)
    assert fig.get_suptitle() == "Fig. 6e\n" + note and (tmp_path / "f.png").stat().st_size > 0
