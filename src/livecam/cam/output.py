"""What the compiled step returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CamOutput:
    """What one call of the step returns, as numpy arrays.

    Attributes:
        maps: ``[batch, targets, h, w]`` float32 in [0, 1] at the CAM layer's resolution.
        probabilities: ``[batch, classes]`` float32.
        class_ids: ``[batch, targets]`` int32, the class each map explains.
        masks: For segmentation models, ``[batch, targets, H, W]`` uint8: the
            pixels predicted as each explained class; else None.
    """

    maps: np.ndarray
    probabilities: np.ndarray
    class_ids: np.ndarray
    masks: np.ndarray | None = None
