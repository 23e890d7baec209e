"""Plain-text tables for the terminal: the first column left-aligned, the rest right."""

from __future__ import annotations


def aligned(rows: list[list[str]]) -> str:
    """Rows of cells (the first row is the header) as aligned text lines."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
