"""Class activation maps: the compiled engine and its methods."""

from livecam.cam.base import CamMethod
from livecam.cam.engine import METHODS, SCORES, CamEngine, CamOutput, make_method

__all__ = ["METHODS", "SCORES", "CamEngine", "CamMethod", "CamOutput", "make_method"]
