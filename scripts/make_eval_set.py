"""Compose the small labelled set in samples/eval/ from OpenCV's sample photos.

Each image pastes one or two real object photos (a monarch, an orange, a fox
squirrel, a baboon, a Granny Smith apple) at a known place on a real
background, so every box is exact. Written as COCO instances JSON.
Needs Debian's opencv-doc (apt-get install opencv-doc). Run from the repo root:
    python scripts/make_eval_set.py
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

DATA = Path("/usr/share/doc/opencv-doc/examples/data")
OUT = Path(__file__).resolve().parents[1] / "samples" / "eval"
CANVAS = (448, 336)  # width, height
OBJECTS = {  # category name (an ImageNet label) -> photo
    "monarch": "butterfly.jpg",
    "orange": "orange.jpg",
    "fox squirrel": "squirrel_cls.jpg",
    "baboon": "baboon.jpg",
    "Granny Smith": "apple.jpg",
}
BACKGROUNDS = ("board.jpg", "building.jpg", "starry_night.jpg", "home.jpg")
IMAGES = 16


def patch_of(name: str, width: int) -> np.ndarray:
    photo = cv2.imread(str(DATA / OBJECTS[name]))
    height = round(photo.shape[0] * width / photo.shape[1])
    return cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)


def place(rng, canvas, patch, taken) -> list[int] | None:
    """A free spot for ``patch`` (no overlap with ``taken`` boxes): [x, y, w, h]."""
    height, width = patch.shape[:2]
    for _ in range(200):
        x = int(rng.integers(0, canvas.shape[1] - width + 1))
        y = int(rng.integers(0, canvas.shape[0] - height + 1))
        if all(
            x + width <= a or a + c <= x or y + height <= b or b + d <= y for a, b, c, d in taken
        ):
            canvas[y : y + height, x : x + width] = patch
            return [x, y, width, height]
    return None


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    names = list(OBJECTS)
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(names)]
    images, annotations = [], []
    for index in range(IMAGES):
        background = cv2.imread(str(DATA / BACKGROUNDS[index % len(BACKGROUNDS)]))
        canvas = cv2.resize(background, CANVAS, interpolation=cv2.INTER_AREA)
        count = 2 if index % 3 == 2 else 1
        chosen = rng.choice(len(names), size=count, replace=False)
        taken: list[list[int]] = []
        for category in chosen:
            width = int(rng.integers(130, 200)) if count == 2 else int(rng.integers(170, 240))
            box = place(rng, canvas, patch_of(names[category], width), taken)
            if box is None:
                continue
            taken.append(box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": int(category) + 1,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
        file_name = f"composed_{index:02d}.jpg"
        cv2.imwrite(str(OUT / file_name), canvas, [cv2.IMWRITE_JPEG_QUALITY, 75])
        images.append(
            {"id": index + 1, "file_name": file_name, "width": CANVAS[0], "height": CANVAS[1]}
        )
    coco = {"images": images, "annotations": annotations, "categories": categories}
    (OUT / "instances.json").write_text(json.dumps(coco, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir()) / 1024
    print(f"{len(images)} images, {len(annotations)} boxes, {total:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
