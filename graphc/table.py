"""Reports as tables: text cells laid out in aligned columns, or as an HTML table (for the
`__str__` and `_repr_html_` of the cost table, saturation, comparison and check reports)."""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence


def text_table(
    rows: Sequence[Sequence[str]], right: Collection[int] = (), indent: str = ""
) -> list[str]:
    """One line per row, the columns two spaces apart: those in `right` right-aligned, the
    others left-aligned, no trailing spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (
            indent
            + "  ".join(
                cell.rjust(width) if i in right else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths))
            )
        ).rstrip()
        for row in rows
    ]


def html_table(
    caption: str, header: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int] = ()
) -> str:
    """An HTML table with a caption, a header row and body rows (cells escaped); the columns
    in `right` right-aligned."""

    def cells(row: Sequence[str], tag: str) -> str:
        aligned = ("right" if i in right else "left" for i in range(len(row)))
        return "".join(
            f"<{tag} style='text-align:{side}'>{html.escape(c)}</{tag}>"
            for side, c in zip(aligned, row)
        )

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return (
        f"<table><caption>{html.escape(caption)}</caption>"
        f"<thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>"
    )
