"""The image workflow: explain image files and write overlays and heatmaps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livecam.errors import ImageReadError
from livecam.explain import Explainer, Explanation
from livecam.outputs import check_writable_dir, write_image
from livecam.render import HeatmapRenderer, peak_xy, side_by_side


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8 (grayscale/BGRA/16-bit are converted later).

    Raises:
        ImageReadError: The file is missing or is not a decodable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image {path} does not exist")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ImageReadError(f"cannot decode {path} as an image")
    return image


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
        return {
            "path": str(self.path),
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
) -> ImageResult:
    """Explain one image file and write, per target, an overlay and a heatmap
    PNG (plus a side-by-side strip when there are several targets).

    Args:
        path: The image.
        explainer: Model, method and targets.
        renderer: Overlay settings; default JET at alpha 0.5.
        out_dir: Where to write; default beside the image. Inputs are never overwritten.

    Raises:
        ImageReadError, OutputError.
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
    overlays = []
    for rank, target in enumerate(explanation.targets, start=1):
        stem = f"{path.stem}.{method}.{rank}-{_slug(target.name)}"
        text = f"{target.name} {target.probability:.1%}"
        overlay = renderer.annotate(image, target.heatmap, text)
        overlays.append(overlay)
        result.targets.append(
            TargetOutput(
                index=target.index,
                label=target.label,
                probability=target.probability,
                peak=peak_xy(target.heatmap, width, height),
                overlay=write_image(out / f"{stem}.overlay.png", overlay, (path,)),
                heatmap=write_image(
                    out / f"{stem}.heatmap.png",
                    renderer.colorize(target.heatmap, width, height),
                    (path,),
                ),
            )
        )
    if len(overlays) > 1:
        strip = side_by_side(overlays)
        name = f"{path.stem}.{method}.top{len(overlays)}.png"
        result.comparison = write_image(out / name, strip, (path,))
    return result
