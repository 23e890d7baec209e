"""Reports with plots: matplotlib figures as inline PNGs in one self-contained
HTML page (no CDN, no files beside it), shared by ``eval``, ``annotate`` and
``bench`` reports. matplotlib is the ``livecam[report]`` extra."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from livecam.errors import LivecamError

# The baselines are drawn dashed and grey beside the methods
BASELINE_STYLE = {"linestyle": "--", "color": "0.55"}
STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; }
.note { color: #666; font-size: 0.9em; }
"""


class ReportError(LivecamError):
    """A report cannot be made (e.g. matplotlib is not installed)."""


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend."""
    try:
        import matplotlib
    except ImportError:
        raise ReportError(
            "reports draw their plots with matplotlib: pip install 'livecam[report]'"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_png(figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    pyplot().close(figure)
    return buffer.getvalue()


def img_tag(png: bytes, alt: str) -> str:
    import base64

    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"/>'


def table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


@dataclass
class Section:
    title: str
    body: str  # HTML
    note: str = ""


def page(title: str, sections: list[Section], data: dict | None = None) -> str:
    """One HTML page; ``data`` is embedded as JSON (``<script id="data">``),
    so the figures shown can be read back exactly."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        note = f'<p class="note">{html.escape(section.note)}</p>' if section.note else ""
        slug = section.title.lower().replace(" ", "-")
        parts.append(f'<section id="{html.escape(slug)}"><h2>{html.escape(section.title)}</h2>')
        parts.append(f"{note}{section.body}</section>")
    embedded = ""
    if data is not None:
        text = json.dumps(data, allow_nan=False).replace("</", "<\\/")
        embedded = f'<script type="application/json" id="data">{text}</script>'
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}{embedded}</body></html>"
    )
