"""VGG16 below its native size: the resize before the Flatten folded into fc1,
against the same resize as a layer. Step time of the compiled Grad-CAM step
(one frame) and how far the maps are from the float32 unfolded ones, per size
and precision (random weights: the figures are about arithmetic, not accuracy).

    python benchmarks/flatten_fold.py
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from livecam.cam import CamEngine
from livecam.frames import model_input
from livecam.models import graph, load_model

ROOT = Path(__file__).resolve().parents[1]
STEPS = 10


def median_ms(engine: CamEngine, batch: np.ndarray) -> float:
    engine(batch)  # trace
    times = []
    for _ in range(STEPS):
        start = time.perf_counter()
        engine(batch)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def unfolded(bundle, size: int, precision: str):
    """The variant with the resize kept as a layer (the fold turned off)."""
    original = graph._dense_after
    graph._dense_after = lambda *args: None
    try:
        return bundle.variant(size, precision)
    finally:
        graph._dense_after = original


def main() -> None:
    vgg = load_model("vgg16", weights="none")
    photos = [cv2.imread(str(ROOT / "samples" / name)) for name in ("orange.jpg", "butterfly.jpg")]
    print("Map error: largest difference from the float32 unfolded maps (bfloat16 rounds).")
    print("size precision     fc1 rows  unfolded ms  folded ms  map error unfolded / folded")
    for size in (192, 160, 128, 96):
        batch = model_input(photos, (size, size))
        reference = CamEngine(unfolded(vgg, size, "float32"))(batch).maps
        for precision in ("float32", "mixed_bfloat16"):
            folded, plain = vgg.variant(size, precision), unfolded(vgg, size, precision)
            errors = [np.abs(CamEngine(b)(batch).maps - reference).max() for b in (plain, folded)]
            plain_ms = median_ms(CamEngine(plain), batch[:1])
            folded_ms = median_ms(CamEngine(folded), batch[:1])
            print(
                f"{size:4} {precision:14} {folded.model.get_layer('fc1').kernel.shape[0]:8}"
                f"  {plain_ms:11.1f}  {folded_ms:9.1f}  {errors[0]:.1e} / {errors[1]:.1e}"
            )


if __name__ == "__main__":
    main()
