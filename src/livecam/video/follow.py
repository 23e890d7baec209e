"""Maps that follow motion: the latest map warped to the current frame.

Between two maps the scene moves and a held map lags behind it. The dense
optical flow from the current frame back to the frame the map explains says
where each pixel was then, and the map is sampled there (OpenCV's
``DISOpticalFlow``, ultrafast preset, on grey frames downscaled to
:data:`FLOW_WIDTH` pixels).
"""

from __future__ import annotations

import cv2
import numpy as np

FLOW_WIDTH = 160  # enough for object motion; the flow's cost grows with its pixels


class MapFollower:
    """Warps a map computed on one frame to a later one.

    Args:
        width: Width of the grey frames the flow is computed on (the height
            keeps the aspect ratio).
    """

    def __init__(self, width: int = FLOW_WIDTH) -> None:
        if width < 16:
            raise ValueError(f"flow width must be at least 16 px, got {width}")
        self.width = width
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._reference: tuple[np.ndarray, np.ndarray] | None = None  # (image, its grey)
        self._grid: np.ndarray | None = None

    def _grey(self, image: np.ndarray) -> np.ndarray:
        height = max(1, round(image.shape[0] * self.width / image.shape[1]))
        small = cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small

    def _reference_grey(self, image: np.ndarray) -> np.ndarray:
        """The grey of the map's frame, made once per map (the same array each frame)."""
        if self._reference is None or self._reference[0] is not image:
            self._reference = (image, self._grey(image))
        return self._reference[1]

    def _pixel_grid(self, shape: tuple[int, int]) -> np.ndarray:
        if self._grid is None or self._grid.shape[:2] != shape:
            ys, xs = np.indices(shape, dtype=np.float32)
            self._grid = np.dstack([xs, ys])
        return self._grid

    def follow(self, heatmap: np.ndarray, map_image: np.ndarray, image: np.ndarray) -> np.ndarray:
        """``heatmap``, computed on ``map_image``, moved to where ``image`` shows
        the scene: a float32 map at the flow's resolution (the renderer resizes
        it like any other). The same frame gives the map back unchanged."""
        if image is map_image:
            return heatmap
        reference = self._reference_grey(map_image)
        current = self._grey(image)
        flow = self._flow.calc(current, reference, None)  # current(x) ~ reference(x + flow)
        height, width = current.shape
        resized = cv2.resize(
            heatmap.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
        )
        where = self._pixel_grid((height, width)) + flow
        return cv2.remap(
            resized, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
