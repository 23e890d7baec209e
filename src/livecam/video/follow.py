"""Maps that follow motion: the latest map carried along to the current frame.

Between two maps the scene moves and a held map lags behind it. For every frame
the dense optical flow back to the frame before says where each pixel was
then (OpenCV's ``DISOpticalFlow``, ultrafast preset, on grey frames downscaled
to :data:`FLOW_WIDTH` pixels), and the map is sampled there. Flows between
consecutive frames stay small, which the ultrafast preset tracks well; a new
map, computed on a frame a few frames back, is carried through the flows kept
since that frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from livecam.media.sources import Frame

FLOW_WIDTH = 160  # enough for object motion; the flow's cost grows with its pixels
HISTORY = 64  # frames whose flows are kept: a map up to this many frames old is carried


@dataclass
class _Seen:
    """A frame the follower saw: its grey and its flow back to the one before."""

    index: int
    grey: np.ndarray
    back: np.ndarray | None  # current(x) ~ previous(x + back(x)); None after a gap


class MapFollower:
    """Carries maps computed on earlier frames to the frame shown now.

    Give it every frame, in order, with the map to show on it
    (:meth:`follow`).

    Args:
        width: Width of the grey frames the flow is computed on (the height
            keeps the aspect ratio).
    """

    def __init__(self, width: int = FLOW_WIDTH) -> None:
        if width < 16:
            raise ValueError(f"flow width must be at least 16 px, got {width}")
        self.width = width
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._seen: deque[_Seen] = deque(maxlen=HISTORY)
        self._source: np.ndarray | None = None  # the map last given
        self._carried: np.ndarray | None = None  # that map, at the newest frame seen
        self._grid: np.ndarray | None = None

    def follow(self, heatmap: np.ndarray, map_frame: Frame, frame: Frame) -> np.ndarray:
        """``heatmap``, computed on ``map_frame``, moved to where ``frame``
        shows the scene: a float32 map at the flow's resolution (the renderer
        resizes it like any other). On its own frame the map is returned as is."""
        new_frame = self._see(frame)
        if heatmap is not self._source:
            self._source, self._carried = heatmap, self._carry_new(heatmap, map_frame)
        elif new_frame and self._seen[-1].back is not None:
            self._carried = self._warp(self._carried, self._seen[-1].back)
        return heatmap if frame.index == map_frame.index else self._carried

    def _grey(self, image: np.ndarray) -> np.ndarray:
        height = max(1, round(image.shape[0] * self.width / image.shape[1]))
        small = cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small

    def _see(self, frame: Frame) -> bool:
        """Add ``frame`` with its flow back to the frame before (unless it is
        the newest already); returns whether it was new."""
        if self._seen and self._seen[-1].index == frame.index:
            return False
        grey = self._grey(frame.image)
        previous = self._seen[-1] if self._seen else None
        back = None
        if previous is not None and previous.grey.shape == grey.shape:
            back = self._flow.calc(grey, previous.grey, None)
        self._seen.append(_Seen(frame.index, grey, back))
        return True

    def _carry_new(self, heatmap: np.ndarray, map_frame: Frame) -> np.ndarray:
        """A new map, brought from its frame to the newest through the flows
        seen since (directly, when its frame is no longer among them)."""
        height, width = self._seen[-1].grey.shape
        carried = cv2.resize(
            heatmap.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
        )
        indices = [seen.index for seen in self._seen]
        if map_frame.index in indices:
            for seen in list(self._seen)[indices.index(map_frame.index) + 1 :]:
                if seen.back is not None:
                    carried = self._warp(carried, seen.back)
            return carried
        back = self._flow.calc(self._seen[-1].grey, self._grey(map_frame.image), None)
        return self._warp(carried, back)

    def _warp(self, heatmap: np.ndarray, back: np.ndarray) -> np.ndarray:
        height, width = back.shape[:2]
        if self._grid is None or self._grid.shape[:2] != (height, width):
            ys, xs = np.indices((height, width), dtype=np.float32)
            self._grid = np.dstack([xs, ys])
        where = self._grid + back
        return cv2.remap(
            heatmap, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
