"""What a CAM explains: the k-th most likely class, or a fixed class.

Targets are encoded as one int32 per map so the compiled step can pick classes
inside the graph: ``index >= 0`` is a class, ``-(rank + 1)`` is the class at
that rank of the prediction (``-1`` = top-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from livecam.errors import TargetError
from livecam.models.labels import class_index


@dataclass(frozen=True)
class Rank:
    """The class at ``rank`` of the prediction (0 = most likely)."""

    rank: int

    def encode(self) -> int:
        return -(self.rank + 1)


@dataclass(frozen=True)
class ClassTarget:
    """A fixed class index, whatever the prediction."""

    index: int

    def encode(self) -> int:
        return self.index


Target = Rank | ClassTarget


def top(k: int = 1) -> list[Target]:
    """The ``k`` most likely classes, most likely first."""
    if k < 1:
        raise TargetError(f"top must be at least 1, got {k}")
    return [Rank(rank) for rank in range(k)]


def classes(labels: list[str], names_or_indices: Sequence[str | int]) -> list[Target]:
    """Fixed classes given by index or label synonym (case-insensitive)."""
    return [ClassTarget(class_index(labels, item)) for item in names_or_indices]


def chosen(
    labels: list[str], k: int | None = None, names: Sequence[str] | None = None
) -> list[Target] | None:
    """What a user asked for: the named classes if any, else the top ``k``; None
    when neither was asked for (the explainer's default: the top class, or with
    a threshold every label that may reach it)."""
    if names:
        return classes(labels, list(names))
    return top(k) if k is not None else None


def encode(targets: Sequence[Target], num_classes: int) -> np.ndarray:
    """The int32 vector the compiled step takes."""
    if not targets:
        raise TargetError("at least one target is needed")
    codes = np.array([target.encode() for target in targets], dtype=np.int32)
    if codes.max() >= num_classes or codes.min() < -num_classes:
        raise TargetError(f"targets {list(targets)} do not fit a model with {num_classes} classes")
    return codes
