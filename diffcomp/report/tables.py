"""Markdown tables and figure files: every table of the experiments is written through here."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from matplotlib.figure import Figure

from diffcomp import files

DPI = 110  # every experiment figure's resolution


def markdown_row(cells: Iterable) -> str:
    """One markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown_header(header: Iterable[str]) -> list[str]:
    """A markdown table's header row and its rule."""
    header = list(header)
    return [markdown_row(header), markdown_row(["---"] * len(header))]


def markdown_table(header: Iterable[str], rows: Iterable[Iterable]) -> list[str]:
    """A whole markdown table: its header, rule and one line per row."""
    return [*markdown_header(header), *(markdown_row(row) for row in rows)]


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write a text table (a ``.md`` beside the figure), one line each, ending in a newline (its folder
    made when missing)."""
    path = Path(path)
    with files.atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def save_figure(fig: Figure, path: Path, note: str | None = None) -> Path:
    """Write ``fig`` as a PNG at the experiments' resolution (its folder made when missing); ``note``
    (e.g. the models' validity gate, :func:`diffcomp.report.gates.gate_note`) becomes the title's last line."""
    if note:
        title = fig.get_suptitle()
        fig.suptitle(f"{title}\n{note}" if title else note, fontsize=9)
    return files.save_figure(fig, path, dpi=DPI)
