"""Labelled images for evaluation: COCO instances JSON or a Pascal VOC folder,
and the mapping of their categories to the model's classes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from livecam.errors import LivecamError, TargetError
from livecam.models.labels import class_index


class AnnotationError(LivecamError):
    """An annotation file cannot be read at all."""


@dataclass(frozen=True)
class Box:
    """A box in image pixels: left, top, width, height."""

    x: float
    y: float
    w: float
    h: float

    def clipped(self, width: int, height: int) -> Box | None:
        """The part inside a ``width`` x ``height`` image, or None if none is."""
        left, top = max(0.0, self.x), max(0.0, self.y)
        right, bottom = min(float(width), self.x + self.w), min(float(height), self.y + self.h)
        if right <= left or bottom <= top:
            return None
        return Box(left, top, right - left, bottom - top)


@dataclass
class LabelledImage:
    """One image and its boxes, by category name."""

    path: Path
    boxes: dict[str, list[Box]] = field(default_factory=dict)


@dataclass
class Dataset:
    """The images to evaluate and the problems found reading them (one line each)."""

    images: list[LabelledImage]
    categories: list[str]
    problems: list[str] = field(default_factory=list)


def load_annotations(annotations: Path, images: Path) -> Dataset:
    """COCO instances JSON (a file) or Pascal VOC XML (a folder of them).

    Raises:
        AnnotationError: The file or folder cannot be read at all.
    """
    annotations, images = Path(annotations), Path(images)
    if annotations.is_dir():
        return read_voc(annotations, images)
    if annotations.is_file():
        return read_coco(annotations, images)
    raise AnnotationError(f"annotations {annotations} do not exist")


def read_coco(path: Path, images: Path) -> Dataset:
    """``images[{id, file_name}]``, ``annotations[{image_id, category_id, bbox}]``,
    ``categories[{id, name}]``; an image file that is missing is reported and skipped."""
    try:
        coco = json.loads(Path(path).read_text("utf-8"))
        names = {int(c["id"]): str(c["name"]) for c in coco["categories"]}
        files = {int(i["id"]): str(i["file_name"]) for i in coco["images"]}
        records = list(coco["annotations"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnnotationError(f"{path} is not COCO instances JSON: {exc}") from None
    problems: list[str] = []
    by_image: dict[int, LabelledImage] = {}
    for record in records:
        try:
            image_id, category = int(record["image_id"]), names[int(record["category_id"])]
            x, y, w, h = (float(v) for v in record["bbox"])
            file_name = files[image_id]
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"{path}: annotation {record.get('id', '?')} is malformed ({exc})")
            continue
        labelled = by_image.setdefault(image_id, LabelledImage(images / file_name))
        labelled.boxes.setdefault(category, []).append(Box(x, y, w, h))
    return _existing(by_image.values(), list(names.values()), problems)


def read_voc(folder: Path, images: Path) -> Dataset:
    """One XML file per image: ``filename`` and ``object/{name, bndbox}``; a file
    that does not parse is reported and the others are read."""
    problems: list[str] = []
    labelled: list[LabelledImage] = []
    categories: list[str] = []
    files = sorted(Path(folder).glob("*.xml"))
    if not files:
        raise AnnotationError(f"no Pascal VOC .xml files in {folder}")
    for xml in files:
        try:
            root = ElementTree.parse(xml).getroot()
            image = LabelledImage(images / root.findtext("filename", "").strip())
            for item in root.iter("object"):
                name = item.findtext("name", "").strip()
                box = item.find("bndbox")
                left, top, right, bottom = (
                    float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")
                )
                # VOC's pixels are numbered from 1 and its boxes include xmax and ymax
                box = Box(left - 1, top - 1, right - left + 1, bottom - top + 1)
                image.boxes.setdefault(name, []).append(box)
                if name not in categories:
                    categories.append(name)
        except (ElementTree.ParseError, AttributeError, TypeError, ValueError) as exc:
            problems.append(f"{xml}: not a Pascal VOC annotation ({exc}); skipped")
            continue
        labelled.append(image)
    return _existing(labelled, categories, problems)


def _existing(images, categories: list[str], problems: list[str]) -> Dataset:
    kept = []
    for image in images:
        if image.path.is_file():
            kept.append(image)
        else:
            problems.append(f"image {image.path} is missing; skipped")
    kept.sort(key=lambda image: image.path.name)
    return Dataset(kept, categories, problems)


def map_categories(
    categories: list[str], labels: list[str], class_map: dict[str, int | str] | None = None
) -> tuple[dict[str, int], list[str]]:
    """Category name -> model class index, by ``class_map`` or by any of the
    label's comma-separated synonyms; categories that map to nothing are
    returned as problems (and skipped)."""
    mapping: dict[str, int] = {}
    problems: list[str] = []
    for category in categories:
        wanted = (class_map or {}).get(category, category)
        try:
            mapping[category] = class_index(labels, wanted)
        except TargetError as exc:
            problems.append(f"category {category!r} maps to no class of the model ({exc}); skipped")
    return mapping, problems


def read_class_map(path: Path) -> dict[str, int | str]:
    """``{"category name": class index or label}`` from a JSON file."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise AnnotationError(f"cannot read class map {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, (int, str)) for v in data.values()):
        raise AnnotationError(f"{path} must map category names to class indices or labels")
    return data
