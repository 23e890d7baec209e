"""The parts shared by the file and live loops: smoothing, and the output
thread that renders, writes and logs while the main thread runs the CAM step."""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livecam.errors import LivecamError, RunAborted
from livecam.explain import Explanation, TargetMap, compose_overlay
from livecam.media.sources import Frame
from livecam.render import HeatmapRenderer, draw_lines, label_bottom
from livecam.timing import StageTimer
from livecam.video.outputs import Output, Rendered
from livecam.views import run_summary_html

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
    memory flat. Each frame is rendered once and handed to every output
    (:mod:`livecam.video.outputs`: videos, the log, the window's frame, a
    callback). :meth:`close` drains the queue and joins the thread, so every
    submitted frame is written before the sinks are closed.
    """

    def __init__(
        self, renderer: HeatmapRenderer, timer: StageTimer, outputs: Sequence[Output] = ()
    ) -> None:
        self.renderer = renderer
        self.timer = timer
        self.outputs = list(outputs)  # see livecam.video.outputs
        self.frames_done = 0
        # (map, colormap, frame size, coloured map) of the last map coloured
        self._colored: tuple[np.ndarray, int, tuple[int, int], np.ndarray] | None = None
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(OUTPUT_QUEUE)
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
        rendered = Rendered(item, overlay, colored, self.timer.last("render"))
        with self.timer.stage("write"):
            for output in self.outputs:
                if output.timed:
                    output.put(rendered)
        rendered.write_s = self.timer.last("write")
        for output in self.outputs:
            if not output.timed:
                output.put(rendered)
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


def draw_hud(frame: np.ndarray, lines: list[str]) -> None:
    """Status lines stacked under the label, drawn in place, fitted to the frame."""
    draw_lines(frame, lines, top=label_bottom(frame))
