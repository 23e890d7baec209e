"""Jupyter: explanations and video runs display themselves, and
:func:`show` explains an image in one call.

Example (in a notebook cell):
    >>> import livecam
    >>> livecam.show("samples/squirrel_cls.jpg", top=3)   # overlays + top classes
"""

from __future__ import annotations

import base64
import functools
import html
from pathlib import Path

import cv2
import numpy as np

from livecam.cam.targets import top as top_targets
from livecam.explain import Explainer, Explanation
from livecam.frames import read_image
from livecam.render import HeatmapRenderer, encode_png, side_by_side
from livecam.video.pipeline import RunSummary

# A notebook shows a strip of overlays; wider ones are shrunk to this.
MAX_WIDTH_PX = 1200


def png_data_uri(image_bgr: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(image_bgr)).decode("ascii")


def _strip(explanation: Explanation) -> np.ndarray:
    """Each explained class's overlay, then the first one's heatmap alone."""
    height, width = explanation.image.shape[:2]
    heatmap = HeatmapRenderer().colorize(explanation.targets[0].heatmap, width, height)
    strip = side_by_side([*explanation.overlays(), heatmap])
    if strip.shape[1] > MAX_WIDTH_PX:
        scale = MAX_WIDTH_PX / strip.shape[1]
        strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return strip


def explanation_png(explanation: Explanation) -> bytes | None:
    """The overlays and the heatmap side by side, or None without an image or a target."""
    if explanation.image is None or not explanation.targets:
        return None
    return encode_png(_strip(explanation))


def explanation_html(explanation: Explanation) -> str | None:
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


def run_summary_html(summary: RunSummary) -> str:
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


@functools.lru_cache(maxsize=4)
def _explainer(model: str, method: str) -> Explainer:
    return Explainer(model, method)


def show(
    image: str | Path | np.ndarray,
    model: str = "lite0",
    method: str = "gradcam",
    top: int = 3,
) -> Explanation:
    """Explain one image (a path or a BGR array): the returned explanation
    displays itself as the cell's result. The model and its compiled step are
    kept for the next call with the same ``model`` and ``method``.

    Raises:
        ImageReadError, UnknownModelError, MethodError: as the CLI reports them.
    """
    frame = read_image(image) if isinstance(image, (str, Path)) else image
    explainer = _explainer(str(model), method).with_targets(top_targets(top))
    return explainer.explain_one(frame)
