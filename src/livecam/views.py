"""HTML and PNG views of explanations and video runs, for Jupyter's ``_repr_``
methods of :class:`~livecam.explain.Explanation` and
:class:`~livecam.video.pipeline.RunSummary` (and any page that shows them).
Below both classes: it reads their fields, never imports them."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livecam.render import HeatmapRenderer, encode_png, side_by_side

# A notebook shows a strip of overlays; wider ones are shrunk to this.
MAX_WIDTH_PX = 1200


def png_data_uri(image_bgr: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(image_bgr)).decode("ascii")


def _strip(explanation: Any) -> np.ndarray:
    """Each explained class's overlay, then the first one's heatmap alone."""
    height, width = explanation.image.shape[:2]
    heatmap = HeatmapRenderer().colorize(explanation.targets[0].heatmap, width, height)
    strip = side_by_side([*explanation.overlays(), heatmap])
    if strip.shape[1] > MAX_WIDTH_PX:
        scale = MAX_WIDTH_PX / strip.shape[1]
        strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return strip


def explanation_png(explanation: Any) -> bytes | None:
    """The overlays and the heatmap side by side, or None without an image or a target."""
    if explanation.image is None or not explanation.targets:
        return None
    return encode_png(_strip(explanation))


def explanation_html(explanation: Any) -> str | None:
    """The overlays and a table of the top predictions."""
    if explanation.image is None or not explanation.targets:
        return None
    rows = "".join(
        f"<tr><td>{p.index}</td><td>{html.escape(p.name)}</td><td>{html.escape(p.value_text)}</td></tr>"
        for p in explanation.predictions
    )
    return (
        f'<div class="livecam-explanation"><img src="{png_data_uri(_strip(explanation))}" '
        f'alt="class activation maps"/>'
        f"<table><tr><th>class</th><th>label</th><th>value</th></tr>{rows}</table></div>"
    )


def run_summary_html(summary: Any) -> str:
    """A video run's figures, and its videos playable where the notebook can
    reach them (paths relative to the notebook's folder)."""
    figures = {
        "source": summary.source,
        "frames written": summary.frames_written,
        "maps": summary.maps,
        "frames/s": f"{summary.fps:.1f}",
        "interrupted": "yes" if summary.interrupted else "no",
    }
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in figures.items()
    )
    videos = "".join(
        f'<video controls src="{html.escape(Path(path).as_posix())}" width="480"></video>'
        for path in summary.outputs
        if Path(path).suffix.lower() in {".mp4", ".webm"}
    )
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in summary.warnings)
    return (
        f'<div class="livecam-run"><table>{rows}</table>{videos}'
        f"{f'<ul>{warnings}</ul>' if warnings else ''}</div>"
    )
