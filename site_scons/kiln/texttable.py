"""Aligned text tables for the terminal: the reports' one table layout."""

from __future__ import annotations


def format_rows(heads: list[str], rows: list[list[str]]) -> list[str]:
    """The table's lines: a rule, the headings, a rule, the rows, a rule.

    The first column (a name) is left-aligned, the others (numbers) right-aligned.
    """
    widths = [max(len(cell) for cell in col) for col in zip(heads, *rows, strict=True)]
    rule = "  ".join("-" * w for w in widths)

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return [rule, line(heads), rule, *(line(row) for row in rows), rule]
