"""Evaluation: labelled images (``annotations``: COCO or Pascal VOC), the
metrics users know (``metrics``: pointing game, deletion/insertion AUC, ROAD)
and the run over methods and baselines behind ``livecam eval`` (``runner``)."""

from livecam.evaluate.annotations import AnnotationError, Box, Dataset, load_annotations
from livecam.evaluate.runner import BASELINES, METRICS, EvalReport, evaluate

__all__ = [
    "BASELINES",
    "METRICS",
    "AnnotationError",
    "Box",
    "Dataset",
    "EvalReport",
    "evaluate",
    "load_annotations",
]
