"""Model kinds: what a map explains, one module per kind of model output
(``classifier``, ``multilabel``, ``segmentation``, ``similarity``), registered
in :data:`~livecam.kinds.base.KINDS` (``base``). A new kind is one module with
one :func:`~livecam.kinds.base.register_kind`, imported here."""

from livecam.kinds.base import (
    KINDS,
    KindOptions,
    Objective,
    Region,
    kind_named,
    recognise,
    register_kind,
)
from livecam.kinds.classifier import ClassScores
from livecam.kinds.multilabel import LabelScores
from livecam.kinds.segmentation import SegmentScores, parse_region
from livecam.kinds.similarity import SimilarityScores, similarity_to

__all__ = [
    "KINDS",
    "ClassScores",
    "KindOptions",
    "LabelScores",
    "Objective",
    "Region",
    "SegmentScores",
    "SimilarityScores",
    "kind_named",
    "parse_region",
    "recognise",
    "register_kind",
    "similarity_to",
]
