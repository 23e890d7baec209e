"""The image workflow: explain image files and write overlays and heatmaps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livecam.errors import OutputError
from livecam.explain import Explainer, Explanation
from livecam.frames import read_image
from livecam.outputs import check_writable_dir, write_image
from livecam.render import HeatmapRenderer, peak_xy, side_by_side


@dataclass
class TargetOutput:
    index: int
    label: str
    probability: float
    peak: tuple[int, int]
    overlay: Path
    heatmap: Path


@dataclass
class ImageResult:
    """What :func:`explain_image` computed and wrote for one image."""

    path: Path
    explanation: Explanation
    targets: list[TargetOutput] = field(default_factory=list)
    comparison: Path | None = None

    def to_json(self) -> dict[str, Any]:
        kind = self.explanation.predictions[0].kind if self.explanation.predictions else "class"
        return {
            "path": str(self.path),
            # what the probabilities are: a class's (summing to one), an
            # independent label's, a segment's share of the image, a cosine similarity
            "kind": kind,
            "predictions": [
                {"index": p.index, "label": p.label, "probability": round(p.probability, 6)}
                for p in self.explanation.predictions
            ],
            "targets": [
                {
                    "index": t.index,
                    "label": t.label,
                    "probability": round(t.probability, 6),
                    "peak": list(t.peak),
                    "overlay": str(t.overlay),
                    "heatmap": str(t.heatmap),
                }
                for t in self.targets
            ],
            "comparison": str(self.comparison) if self.comparison else None,
        }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def explain_image(
    path: str | Path,
    explainer: Explainer,
    renderer: HeatmapRenderer | None = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
) -> ImageResult:
    """Explain one image file and write, per target, an overlay and a heatmap
    PNG (plus a side-by-side strip when there are several targets).

    Args:
        path: The image.
        explainer: Model, method and targets.
        renderer: Overlay settings; default JET at alpha 0.5.
        out_dir: Where to write; default beside the image.
        overwrite: Replace earlier outputs; inputs are never overwritten.

    Raises:
        ImageReadError, OutputError (an output exists: nothing is written).
    """
    path = Path(path)
    renderer = renderer or HeatmapRenderer()
    image = read_image(path)
    out = Path(out_dir) if out_dir is not None else path.parent
    check_writable_dir(out)
    explanation = explainer.explain_one(image)
    height, width = image.shape[:2]
    method = explainer.engine.method.name.replace("+", "p")
    result = ImageResult(path, explanation)
    planned: list[tuple[Path, np.ndarray]] = []
    overlays = explanation.overlays(renderer)
    for rank, (target, overlay) in enumerate(
        zip(explanation.targets, overlays, strict=True), start=1
    ):
        stem = out / f"{path.stem}.{method}.{rank}-{_slug(target.name)}"
        output = TargetOutput(
            index=target.index,
            label=target.label,
            probability=target.probability,
            peak=peak_xy(target.heatmap, width, height),
            overlay=stem.with_name(stem.name + ".overlay.png"),
            heatmap=stem.with_name(stem.name + ".heatmap.png"),
        )
        result.targets.append(output)
        planned.append((output.overlay, overlay))
        planned.append((output.heatmap, renderer.colorize(target.heatmap, width, height)))
    if len(overlays) > 1:
        result.comparison = out / f"{path.stem}.{method}.top{len(overlays)}.png"
        planned.append((result.comparison, side_by_side(overlays)))
    existing = [target for target, _ in planned if target.exists()]
    if existing and not overwrite:
        raise OutputError(f"{existing[0]} exists; pass --overwrite to replace it")
    for target, picture in planned:
        write_image(target, picture, (path,))
    return result
