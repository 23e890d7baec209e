"""Class activation maps: the compiled step (``engine``), what a map explains
(``targets``), one small module per method on a shared base, and the eager
tutorial formula kept as a yardstick (``reference``)."""

from livecam.cam.base import CamMethod
from livecam.cam.engine import METHODS, SCORES, CamEngine, CamOutput, make_method
from livecam.cam.targets import ClassTarget, Rank, Target, chosen, classes, top

__all__ = [
    "METHODS",
    "SCORES",
    "CamEngine",
    "CamMethod",
    "CamOutput",
    "ClassTarget",
    "Rank",
    "Target",
    "chosen",
    "classes",
    "make_method",
    "top",
]
