"""Class labels: the bundled ImageNet list, label files, and name lookup."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

from livecam.errors import TargetError

IMAGENET_CLASSES = 1000


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names (each line holds comma-separated synonyms)."""
    text = resources.files("livecam.models").joinpath("data/imagenet_labels.txt").read_text("utf-8")
    return text.splitlines()


def read_labels(path: str | Path) -> list[str]:
    """One label per line; blank lines are ignored."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as exc:
        raise TargetError(f"cannot read labels file {path}: {exc.strerror}") from exc
    return [line.strip() for line in lines if line.strip()]


def default_labels(num_classes: int) -> list[str]:
    """ImageNet names for 1000-class models, ``class N`` otherwise."""
    if num_classes == IMAGENET_CLASSES:
        return imagenet_labels()
    return [f"class {i}" for i in range(num_classes)]


def short_label(label: str) -> str:
    """The first synonym: ``"fox squirrel, eastern fox squirrel"`` -> ``"fox squirrel"``."""
    return label.split(",")[0].strip()


def class_index(labels: list[str], name_or_index: str | int) -> int:
    """Resolve a class given by index or by any synonym (case-insensitive).

    Raises:
        TargetError: Out-of-range index, or unknown name (with the closest labels).
    """
    if isinstance(name_or_index, int) or str(name_or_index).strip().isdigit():
        index = int(name_or_index)
        if not 0 <= index < len(labels):
            raise TargetError(f"class index {index} is out of range 0..{len(labels) - 1}")
        return index
    wanted = str(name_or_index).strip().lower()
    synonyms: dict[str, int] = {}
    for index, label in enumerate(labels):
        for synonym in label.split(","):
            synonyms.setdefault(synonym.strip().lower(), index)
    if wanted in synonyms:
        return synonyms[wanted]
    close = difflib.get_close_matches(wanted, list(synonyms), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise TargetError(f"unknown class {name_or_index!r}{hint}")
