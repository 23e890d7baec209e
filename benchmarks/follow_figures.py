"""Does --follow keep a held map on a moving object? Measured on a clip composed
here: the monarch photo crossing a real street scene (a frame of vtest.avi)
fast enough to move more than a quarter of its width between two maps of
``--refresh 4``, with its box known in every frame.

    python benchmarks/follow_figures.py --json docs/follow.json

For maps every frame, ``--refresh 4`` and ``--refresh 4 --follow`` (lite0,
Grad-CAM of the class monarch): how often the map's peak falls in the
monarch's box (all frames, and the frames between maps), the cost of following
per frame, and the throughput of the whole annotation.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import cv2
import numpy as np

from livecam.bench import machine_info
from livecam.cam import classes
from livecam.explain import Explainer
from livecam.models import load_model
from livecam.video.annotate import annotate_video

ROOT = Path(__file__).resolve().parents[1]
SIZE = (640, 480)
OBJECT_WIDTH = 260
STEP_PX = 24  # per frame: 96 px (37 % of the object's width) between two maps of --refresh 4


def compose(path: Path, frames: int = 120, fps: float = 30.0) -> list[list[int]]:
    """Write the clip; returns the monarch's box (x0, y0, x1, y1) in every frame."""
    capture = cv2.VideoCapture(str(ROOT / "samples" / "vtest.avi"))
    ok, street = capture.read()
    capture.release()
    if not ok:
        raise SystemExit("cannot read samples/vtest.avi")
    background = cv2.resize(street, SIZE, interpolation=cv2.INTER_AREA)
    butterfly = cv2.imread(str(ROOT / "samples" / "butterfly.jpg"))
    height = round(butterfly.shape[0] * OBJECT_WIDTH / butterfly.shape[1])
    patch = cv2.resize(butterfly, (OBJECT_WIDTH, height), interpolation=cv2.INTER_AREA)
    travel = SIZE[0] - OBJECT_WIDTH
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    boxes = []
    for i in range(frames):
        along = (i * STEP_PX) % (2 * travel)
        left = along if along <= travel else 2 * travel - along  # back and forth
        top = round((SIZE[1] - height) / 2 + 40 * math.sin(2 * math.pi * i / 60))
        frame = background.copy()
        frame[top : top + height, left : left + OBJECT_WIDTH] = patch
        writer.write(frame)
        boxes.append([left, top, left + OBJECT_WIDTH, top + height])
    writer.release()
    return boxes


def in_box(peak: list[int], box: list[int]) -> bool:
    return box[0] <= peak[0] < box[2] and box[1] <= peak[1] < box[3]


def measure(explainer, clip: Path, boxes, folder: Path, refresh: int, follow: bool) -> dict:
    log = folder / f"r{refresh}-{follow}.jsonl"
    summary = annotate_video(
        clip,
        folder / f"r{refresh}-{follow}.mp4",
        explainer,
        log_path=log,
        refresh=refresh,
        follow=follow,
        overwrite=True,
    )
    records = [json.loads(line) for line in log.read_text().splitlines()]
    hits = [in_box(r["peak"], boxes[r["frame"]]) for r in records]
    between = [hit for hit, r in zip(hits, records, strict=True) if r["frame"] % refresh]
    follow_ms = [r["timings_ms"]["follow"] for r in records]
    row = {
        "run": f"--refresh {refresh}" + (" --follow" if follow else ""),
        "frames": len(records),
        "maps": summary.maps,
        "peak_in_box": round(float(np.mean(hits)), 3),
        "peak_in_box_between_maps": round(float(np.mean(between)), 3) if between else None,
        "follow_ms_per_frame_p50": round(float(np.median(follow_ms)), 2) if follow else None,
        "follow_ms_per_frame_p95": round(float(np.percentile(follow_ms, 95)), 2)
        if follow
        else None,
        "annotate_fps": round(summary.fps, 1),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    bundle = load_model("lite0")
    explainer = Explainer(bundle, targets=classes(bundle.labels, ["monarch"]))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = folder / "crossing_monarch.mp4"
        boxes = compose(clip)
        rows = [
            measure(explainer, clip, boxes, folder, refresh, follow)
            for refresh, follow in ((1, False), (4, False), (4, True))
        ]
    result = {
        "machine": machine_info(),
        "clip": f"{len(boxes)} frames {SIZE[0]}x{SIZE[1]}, monarch {OBJECT_WIDTH} px wide, "
        f"{STEP_PX} px/frame ({4 * STEP_PX / OBJECT_WIDTH:.0%} of its width per 4 frames)",
        "rows": rows,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
