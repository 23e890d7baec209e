"""Rebuild the sample clips in samples/ from OpenCV's sample data.

Needs Debian's opencv-doc (apt-get install opencv-doc). Run from the repo root:
    python scripts/make_samples.py
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2

DATA = Path("/usr/share/doc/opencv-doc/examples/data")
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def cut(source: str, target: str, start: int, count: int, fourcc: str) -> None:
    capture = cv2.VideoCapture(str(DATA / source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = None
    for _ in range(count):
        ok, frame = capture.read()
        if not ok:
            break
        if writer is None:
            size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(
                str(SAMPLES / target), cv2.VideoWriter_fourcc(*fourcc), fps, size
            )
        writer.write(frame)
    writer.release()


def moving_monarch(frames: int = 45, fps: float = 15.0, size: tuple[int, int] = (640, 480)) -> None:
    """The monarch photo sliding left to right over a real background; the
    butterfly's box in every frame goes to a JSON file beside the clip."""
    width, height = size
    background = cv2.resize(cv2.imread(str(DATA / "board.jpg")), size, interpolation=cv2.INTER_AREA)
    butterfly = cv2.imread(str(DATA / "butterfly.jpg"))
    patch_w = 260
    patch_h = round(butterfly.shape[0] * patch_w / butterfly.shape[1])
    patch = cv2.resize(butterfly, (patch_w, patch_h), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(
        str(SAMPLES / "moving_monarch.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size
    )
    boxes = []
    top = (height - patch_h) // 2
    for i in range(frames):
        left = round(i * (width - patch_w) / (frames - 1))
        frame = background.copy()
        frame[top : top + patch_h, left : left + patch_w] = patch
        writer.write(frame)
        boxes.append([left, top, left + patch_w, top + patch_h])
    writer.release()
    meta = {"fps": fps, "size": list(size), "class": "monarch", "boxes_xyxy": boxes}
    (SAMPLES / "moving_monarch.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    SAMPLES.mkdir(exist_ok=True)
    cut("Megamind.avi", "megamind.mp4", 60, 48, "mp4v")
    cut("vtest.avi", "vtest.avi", 0, 30, "XVID")
    moving_monarch()
    for path in sorted(SAMPLES.iterdir()):
        print(f"{path.name:28} {path.stat().st_size / 1024:8.1f} KiB")
