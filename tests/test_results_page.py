"""docs/results.md is the issue's deliverable: a section per experiment, a verdict per claim, and every
figure and table it shows committed beside it (a moved or missing PNG breaks the page silently)."""

from __future__ import annotations

import re

from support import EXPERIMENTS, REPO

PAGE = REPO / "docs" / "results.md"
VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive (undertrained)", "not run")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # markdown links and images, anchors dropped


def _local_links(markdown: str) -> list[str]:
    return [t for t in LINK.findall(markdown) if not re.match(r"[a-z]+://", t)]


def test_every_experiment_has_a_section_with_a_figure():
    text = PAGE.read_text()
    sections = re.split(r"^## ", text, flags=re.M)
    for name in EXPERIMENTS:
        mine = [s for s in sections if s.splitlines()[0].rstrip().endswith(f"`{name}`")]
        assert len(mine) == 1, f"docs/results.md: no section headed `{name}`"
        assert re.search(r"!\[[^\]]*\]\(figures/[^)]+\.png\)", mine[0]), f"section {name} shows no figure"


def test_every_summary_row_has_a_verdict():
    rows = [line for line in PAGE.read_text().splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) >= len(EXPERIMENTS)
    assert [int(r.split("|")[1]) for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        verdict = row.split("|")[3].strip()
        assert verdict.startswith(VERDICTS), f"row without a verdict: {row[:80]}"


def test_every_linked_file_exists():
    for page in (PAGE, REPO / "README.md", *sorted((REPO / "experiments").glob("*/README.md"))):
        for target in _local_links(page.read_text()):
            assert (page.parent / target).exists(), f"{page.relative_to(REPO)} links to missing {target}"


def test_every_summary_row_has_a_gate_and_an_inconclusive_row_never_reads_as_a_contradiction():
    rows = [line.split("|") for line in PAGE.read_text().splitlines() if re.match(r"^\| \d+ \|", line)]
    for cells in rows:
        verdict, gate = cells[3].strip(), cells[5].strip()
        assert gate, f"row {cells[1].strip()} names no gate"
        if gate.startswith("missed"):
            assert verdict.startswith(("inconclusive (undertrained)", "not run")), (
                f"row {cells[1].strip()}: {verdict[:60]}"
            )
        if verdict.startswith("inconclusive"):
            assert "not reproduced" not in verdict and "partly" not in verdict, f"row {cells[1].strip()}"
