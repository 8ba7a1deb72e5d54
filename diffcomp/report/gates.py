"""Validity gates and the verdicts they allow.

A model that has not learned its own training distribution cannot test a claim about generalising
beyond it. Each job records its experiment's gate (``gate`` in its record: the metric, the level, its
value, passed or not); a claim is read only from models that passed. Where any of them missed, the
claim's verdict is *inconclusive (undertrained)*, whatever the numbers would otherwise say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from diffcomp.report.tables import markdown_table
from diffcomp.results import Record

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly", "not reproduced"
INCONCLUSIVE, NOT_RUN = "inconclusive (undertrained)", "not run"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)


@dataclass(frozen=True)
class GateSummary:
    """The gate over a claim's records: how many jobs passed, and the lowest value."""

    metric: str
    threshold: float
    values: tuple[float | None, ...]

    @property
    def passed(self) -> int:
        return sum(1 for v in self.values if v is not None and v >= self.threshold)

    @property
    def total(self) -> int:
        return len(self.values)

    @property
    def holds(self) -> bool:
        """Every job reached the level (a job without the metric did not)."""
        return self.total > 0 and self.passed == self.total

    @property
    def lowest(self) -> float | None:
        known = [v for v in self.values if v is not None]
        return min(known) if known else None

    def text(self) -> str:
        lowest = "-" if self.lowest is None else f"{self.lowest:.2f}"
        return f"{self.metric} >= {self.threshold:g}: {self.passed}/{self.total} passed (lowest {lowest})"


def gate_summary(records: Iterable[Record]) -> GateSummary | None:
    """The gate of the records that declare one (None when none does: a theory task, an old record)."""
    gated = [r.gate for r in records if r.gate.get("metric")]
    if not gated:
        return None
    metrics = {(g["metric"], float(g["threshold"])) for g in gated}
    if len(metrics) > 1:
        raise ValueError(f"records disagree on their gate: {sorted(metrics)}")
    ((metric, threshold),) = metrics
    return GateSummary(metric, threshold, tuple(g.get("value") for g in gated))


def verdict(reading: str, gate: GateSummary | None) -> str:
    """The verdict a claim may carry: ``reading`` (what its numbers say) when its models all passed
    their gate, else *inconclusive (undertrained)*. Records without a gate (theory tasks) keep theirs."""
    if reading not in VERDICTS:
        raise ValueError(f"unknown verdict {reading!r}: one of {', '.join(VERDICTS)}")
    if reading == NOT_RUN or gate is None or gate.holds:
        return reading
    return INCONCLUSIVE


def gate_table(
    records: Iterable[Record], label=lambda r: ", ".join(f"{k}={v}" for k, v in r.params.items())
) -> list[str]:
    """One row per job: its label (its parameters by default), seed, the gate's metric, value, level
    and whether it passed: the table every experiment's figure writes beside its own."""
    rows = []
    for record in sorted(records, key=lambda r: (label(r), r.seed if isinstance(r.seed, int) else -1)):
        gate = record.gate
        if not gate.get("metric"):
            continue
        value = gate.get("value")
        shown = "-" if value is None else f"{value:.3f}"
        passed = {True: "yes", False: "**no**", None: "no metric"}[gate.get("passed")]
        rows.append([label(record) or "-", record.seed, gate["metric"], shown, f">= {gate['threshold']:g}", passed])
    return markdown_table(["job", "seed", "gate metric", "value", "level", "passed"], rows) if rows else []


def gate_note(records: Iterable[Record]) -> str | None:
    """One line for a figure's title: the validity gate over these jobs (None when none declares one)."""
    summary = gate_summary(records)
    if summary is None:
        return None
    return f"validity gate {summary.text()}" + (
        "" if summary.holds else ": claims resting on the models below it are inconclusive"
    )
