"""The parts shared by the file and live loops: smoothing, and the output
thread that renders, writes and logs while the main thread runs the CAM step."""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from livecam.errors import LivecamError, RunAborted
from livecam.explain import Explanation, TargetMap, compose_overlay
from livecam.html import run_summary_html
from livecam.media.sinks import FrameSink
from livecam.media.sources import Frame
from livecam.render import HeatmapRenderer, draw_lines, label_bottom, peak_xy
from livecam.timing import STAGES, StageTimer

OUTPUT_QUEUE = 16


class MapSmoother:
    """Exponential moving average of maps across frames, to cut flicker.

    ``alpha`` is the weight of the past: 0 turns smoothing off, 0.8 is heavy.
    """

    def __init__(self, alpha: float = 0.0) -> None:
        if not 0.0 <= alpha < 1.0:
            raise LivecamError(f"smooth must be in [0, 1), got {alpha}")
        self.alpha = alpha
        self._previous: np.ndarray | None = None

    def __call__(self, heatmap: np.ndarray) -> np.ndarray:
        if self.alpha == 0.0 or self._previous is None or self._previous.shape != heatmap.shape:
            self._previous = heatmap
            return heatmap
        self._previous = self.alpha * self._previous + (1.0 - self.alpha) * heatmap
        return self._previous


@dataclass
class Processed:
    """A frame with the map chosen for it, on its way to the output thread."""

    frame: Frame
    explanation: Explanation
    target: TargetMap
    heatmap: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    hud: list[str] | None = None
    log_fields: dict[str, Any] = field(default_factory=dict)  # e.g. map_seq, quality


@dataclass
class RunSummary:
    """What a run did, for the CLI's closing line and for scripts."""

    source: str
    frames_in: int = 0
    frames_out: int = 0
    frames_written: int = 0
    dropped: int = 0
    duplicated: int = 0
    elapsed_s: float = 0.0
    outputs: list[Path] = field(default_factory=list)
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # inputs that could not be read
    quality: str | None = None
    timings_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    maps: int = 0  # CAM steps run (fewer than frames with --refresh, or live)
    maps_per_s: float | None = None
    frame_interval_p99_ms: float | None = None  # live: the video's smoothness

    @property
    def fps(self) -> float:
        return self.frames_out / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def _repr_html_(self) -> str:
        return run_summary_html(self)


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


@contextmanager
def signals_deferred(summary: RunSummary) -> Iterator[None]:
    """While the outputs are finalised, Ctrl-C and SIGTERM are noted in the
    summary's warnings instead of raised: a second signal cannot cut the
    finalisation short and leave a half-written file. Main thread only (the
    only one Python delivers signals to)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, _frame) -> None:
        name = signal.Signals(signum).name
        summary.warnings.append(f"ignored {name} while finalising the outputs")

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def aborting_keeps(summary: RunSummary, outputs: ExitStack) -> Iterator[None]:
    """Turn an error mid-run into :class:`RunAborted`, after closing (and so
    keeping) the outputs written so far."""
    try:
        yield
    except Exception as exc:
        try:
            outputs.close()
        except Exception as close_error:  # e.g. the disk filled up: report the first error
            summary.warnings.append(str(close_error))
        kept = ", ".join(str(p) for p in summary.outputs if p.exists()) or "nothing"
        raise RunAborted(
            f"{summary.source}: {exc or type(exc).__name__} after {summary.frames_out} frames; "
            f"kept {kept}",
            summary,
        ) from exc


class OutputWorker:
    """Renders overlays, writes the videos and the log on a thread of its own.

    The main thread :meth:`submit`s processed frames; a bounded queue keeps
    memory flat. :meth:`close` drains the queue and joins the thread, so every
    submitted frame is written before the sinks are closed.
    """

    def __init__(
        self,
        renderer: HeatmapRenderer,
        timer: StageTimer,
        overlay_sink: FrameSink | None = None,
        heatmap_sink: FrameSink | None = None,
        log: IO[str] | None = None,
        keep_latest: bool = False,
        on_overlay: Callable[[np.ndarray, Processed], None] | None = None,
    ) -> None:
        self.renderer = renderer
        self.timer = timer
        self.overlay_sink = overlay_sink
        self.heatmap_sink = heatmap_sink
        self.log = log
        self.keep_latest = keep_latest
        self.on_overlay = on_overlay
        self.latest: np.ndarray | None = None
        self.frames_done = 0
        # (map, colormap, frame size, coloured map) of the last map coloured
        self._colored: tuple[np.ndarray, int, tuple[int, int], np.ndarray] | None = None
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(OUTPUT_QUEUE)
        self._started = time.perf_counter()  # the logs' wall_s
        self._thread = threading.Thread(target=self._run, daemon=True, name="livecam-writer")
        self._thread.start()

    def submit(self, item: Processed) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is not None:
                continue  # keep draining so the producer never blocks
            try:
                self._handle(item)
            except BaseException as exc:  # re-raised on the producer's next submit
                self.error = exc

    def _handle(self, item: Processed) -> None:
        image = item.frame.image
        height, width = image.shape[:2]
        with self.timer.stage("render"):
            text = item.explanation.caption(item.target)
            colored = self._colorize(item.heatmap, width, height)
            overlay = compose_overlay(self.renderer, image, colored, text, item.target)
            if item.hud:
                draw_hud(overlay, item.hud)
            peak = peak_xy(item.heatmap, width, height) if self.log is not None else None
        render_s = self.timer.last("render")
        with self.timer.stage("write"):
            self._write(self.overlay_sink, overlay, item.frame.time_s)
            if self.heatmap_sink is not None:
                self._write(self.heatmap_sink, colored, item.frame.time_s)
        if self.log is not None:
            record = log_record(item, peak, render_s, self.timer.last("write"))
            record["wall_s"] = round(time.perf_counter() - self._started, 4)
            self.log.write(json.dumps(record) + "\n")
        if self.keep_latest:
            self.latest = overlay
        if self.on_overlay is not None:
            self.on_overlay(overlay, item)
        self.frames_done += 1

    def _colorize(self, heatmap: np.ndarray, width: int, height: int) -> np.ndarray:
        """The coloured map at frame size, made once per map: a map held over
        several frames (live, ``--refresh``) is the same array each time."""
        cached = self._colored
        settings = (self.renderer.colormap, (width, height))
        if cached is None or cached[0] is not heatmap or cached[1:3] != settings:
            cached = (heatmap, *settings, self.renderer.colorize(heatmap, width, height))
            self._colored = cached
        return cached[3]

    @staticmethod
    def _write(sink: FrameSink | None, image: np.ndarray, time_s: float) -> None:
        if sink is not None:
            sink.write(image, time_s)


def draw_hud(frame: np.ndarray, lines: list[str]) -> None:
    """Status lines stacked under the label, drawn in place, fitted to the frame."""
    draw_lines(frame, lines, top=label_bottom(frame))
