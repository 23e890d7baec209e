"""Class activation maps: the compiled step (``engine``), test-time smoothing
(``smoothing``), what a map explains (``targets``), one small module per method
on a shared base, registered in ``registry`` (the order below is the order
``livecam models`` lists them), and the eager tutorial formula kept as a
yardstick (``reference``)."""

# isort: off
# each import registers its method(s); a new method is one file and one line here
from livecam.cam import gradcam, gradcam_plus_plus, class_activation, hirescam  # noqa: F401
from livecam.cam import gradcam_elementwise, xgradcam, layercam, eigencam  # noqa: F401
from livecam.cam import scorecam, ablationcam, fem, finercam, kpcacam, randomcam  # noqa: F401
from livecam.cam import shapleycam, fullgrad, smoothgradcampp  # noqa: F401

# isort: on
from livecam.cam.base import CamMethod
from livecam.cam.engine import CamEngine, CamOutput
from livecam.cam.registry import METHODS, SCORES, make_method, register_method
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
    "register_method",
    "top",
]
