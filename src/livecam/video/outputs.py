"""Where a rendered frame goes: each output is a small object handed to the
:class:`~livecam.video.pipeline.OutputWorker`, so a new output is one class.
``timed`` outputs (the videos) count in the ``write`` stage; the others (the
log, the window's latest frame, a callback) run after it and see its time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol

import numpy as np

from livecam.media.sinks import FrameSink
from livecam.render import peak_xy
from livecam.timing import STAGES

if TYPE_CHECKING:
    from livecam.video.pipeline import Processed


@dataclass
class Rendered:
    """One frame as rendered: the overlay, the map coloured at the frame's
    size, and how long rendering and the timed outputs took."""

    item: Processed
    overlay: np.ndarray
    colored: np.ndarray
    render_s: float
    write_s: float = 0.0


class Output(Protocol):
    timed: bool

    def put(self, rendered: Rendered) -> None:
        """Take one rendered frame (on the output thread)."""


class OverlayVideo:
    """The overlays into a video sink."""

    timed = True

    def __init__(self, sink: FrameSink) -> None:
        self.sink = sink

    def put(self, rendered: Rendered) -> None:
        self.sink.write(rendered.overlay, rendered.item.frame.time_s)


class HeatmapVideo(OverlayVideo):
    """The coloured maps alone into a video sink (``--heatmap-out``)."""

    def put(self, rendered: Rendered) -> None:
        self.sink.write(rendered.colored, rendered.item.frame.time_s)


class FrameLog:
    """One JSON line per frame (``--log``): predictions, target, peak, timings."""

    timed = False

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self._started = time.perf_counter()  # the records' wall_s

    def put(self, rendered: Rendered) -> None:
        item = rendered.item
        height, width = item.frame.image.shape[:2]
        peak = peak_xy(item.heatmap, width, height)
        record = log_record(item, peak, rendered.render_s, rendered.write_s)
        record["wall_s"] = round(time.perf_counter() - self._started, 4)
        self.file.write(json.dumps(record) + "\n")


def log_record(item: Processed, peak: tuple[int, int], render_s: float, write_s: float) -> dict:
    """One JSON-lines record: frame, time, predictions, target, peak, stage timings.

    Every stage of :data:`~livecam.timing.STAGES` is in ``timings_ms``: 0 for
    one that did not run on this frame (a live frame that reused the last map)."""
    timings = dict.fromkeys(STAGES, 0.0)
    timings.update({key: round(value * 1000, 3) for key, value in item.timings.items()})
    timings.update(render=round(render_s * 1000, 3), write=round(write_s * 1000, 3))
    record = {
        "frame": item.frame.index,
        "time_s": round(item.frame.time_s, 4),
        "predictions": [
            {"index": p.index, "label": p.label, "probability": round(p.probability, 6)}
            for p in item.explanation.predictions
        ],
        "target": {
            "index": item.target.index,
            "label": item.target.label,
            "probability": round(item.target.probability, 6),
        },
        "peak": list(peak),
        "timings_ms": timings,
    }
    record.update(item.log_fields)
    return record


class LatestOverlay:
    """Keeps the newest overlay, for the window the display loop shows."""

    timed = False

    def __init__(self) -> None:
        self.latest: np.ndarray | None = None

    def put(self, rendered: Rendered) -> None:
        self.latest = rendered.overlay


class OverlayCallback:
    """Hands each overlay and its frame to a function (``LiveRunner``'s ``on_overlay``)."""

    timed = False

    def __init__(self, callback: Callable[[np.ndarray, Processed], None]) -> None:
        self.callback = callback

    def put(self, rendered: Rendered) -> None:
        self.callback(rendered.overlay, rendered.item)
