"""The live loop: camera or stream -> CAM step -> overlay window / recording.

The reader thread keeps only the newest frame; the CAM step runs on this
thread; rendering, recording and logging run on the output thread. With a
frame-rate target, a :class:`~livecam.video.governor.Governor` picks the quality.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from livecam.cam import METHODS
from livecam.cam.targets import Target
from livecam.errors import InputSizeError, MethodError, OutputError
from livecam.explain import Explainer, Explanation
from livecam.frames import model_input
from livecam.models import LoadedModel
from livecam.outputs import write_image
from livecam.render import HeatmapRenderer
from livecam.timing import StageTimer
from livecam.video.governor import Governor, QualityLevel
from livecam.video.pipeline import (
    MapSmoother,
    OutputWorker,
    Processed,
    RunSummary,
    aborting_keeps,
    signals_deferred,
)
from livecam.video.sinks import RealTimeSink, VideoSink
from livecam.video.sources import FrameSource

KEY_QUIT = (ord("q"), 27)
StatusCallback = Callable[[str], None]


class ExplainerCache:
    """One :class:`Explainer` per (size, precision, method), built on first use."""

    def __init__(self, model: LoadedModel, method: str, targets: list[Target], score: str) -> None:
        self.model = model
        self.method = method
        self.targets = targets
        self.score = score
        self._cache: dict[tuple[int, str, str], Explainer] = {}

    def get(self, level: QualityLevel, method: str | None = None) -> Explainer:
        key = (level.input_size, level.precision, method or self.method)
        if key not in self._cache:
            variant = self.model.variant(level.input_size, level.precision)
            self._cache[key] = Explainer(variant, key[2], self.targets, self.score)
        return self._cache[key]


@dataclass
class LiveControls:
    """What the keyboard changes while running."""

    slot: int = 0
    method: str = "gradcam"
    paused: bool = False
    quit: bool = False
    messages: list[tuple[float, str]] = field(default_factory=list)

    def say(self, text: str) -> None:
        """Show ``text`` on the HUD for a few seconds."""
        self.messages.append((time.perf_counter(), text))

    def recent_messages(self, now: float, seconds: float = 3.0) -> list[str]:
        return [text for at, text in self.messages[-2:] if now - at < seconds]


def _next_method(current: str, step: int = 1) -> str:
    names = list(METHODS)
    return names[(names.index(current) + step) % len(names)]


class LiveRunner:
    """Runs a live source until it ends, a limit is reached, or the user quits.

    Args:
        cache: The explainers (model, targets) to use.
        renderer: Overlay settings; ``+``/``-`` change its alpha.
        fps_target: Hold at least this many frames per second (None: full quality).
        smooth: Exponential moving average of maps.
        display: Show a window (when one can be opened).
        status: Called about once a second with a one-line status.
        snapshot_dir: Where ``s`` saves PNG snapshots.
    """

    def __init__(
        self,
        cache: ExplainerCache,
        renderer: HeatmapRenderer,
        *,
        fps_target: float | None = None,
        smooth: float = 0.0,
        display=None,
        status: StatusCallback | None = None,
        snapshot_dir: Path = Path("."),
    ) -> None:
        self.cache = cache
        self.renderer = renderer
        native = cache.model.input_size[0]
        self.governor = Governor(fps_target, native) if fps_target else None
        self.level = QualityLevel(native)
        self.smoother = MapSmoother(smooth)
        self.display = display
        self.status = status
        self.snapshot_dir = snapshot_dir
        self.controls = LiveControls(method=cache.method)
        self.timer = StageTimer()

    def _explainer(self) -> Explainer:
        while True:
            try:
                return self.cache.get(self.level, self.controls.method)
            except InputSizeError:
                if self.governor is None:
                    raise
                moved = self.governor.reject(self.level)
                if moved is None:
                    raise
                self.level = moved

    def run(
        self,
        source: FrameSource,
        record: Path | None = None,
        log_path: Path | None = None,
        duration: float | None = None,
        max_frames: int | None = None,
        codec: str | None = None,
        overwrite: bool = False,
    ) -> RunSummary:
        """Process frames until the end; recording and log are always finalised.

        Raises:
            SinkError: The recording cannot be opened (before any frame).
            RunAborted: An error mid-run; the recording so far is kept.
        """
        summary = RunSummary(source=source.name)
        summary.outputs = [Path(record)] if record is not None else []
        size = (source.info.width, source.info.height)
        with ExitStack() as stack:
            sink = None
            if record is not None:
                video = VideoSink(record, source.info.fps, size, codec, overwrite=overwrite)
                sink = RealTimeSink(stack.enter_context(video))
            log = stack.enter_context(open(log_path, "w", encoding="utf-8")) if log_path else None
            self._explainer().warm_up()  # trace before the clock starts
            keep_latest = self.display is not None and self.display.enabled
            with aborting_keeps(summary, stack):
                worker = OutputWorker(self.renderer, self.timer, sink, None, log, keep_latest)
                started = time.perf_counter()
                try:
                    self._loop(source, worker, summary, started, duration, max_frames)
                except KeyboardInterrupt:
                    summary.interrupted = True
                finally:
                    with signals_deferred(summary):
                        worker.close()
                        if self.display is not None:
                            self.display.close()
                        self._fill(summary, source, sink, time.perf_counter() - started, worker)
                        stack.close()  # the recording is finalised, whatever signal comes
                if worker.error is not None:
                    raise worker.error
        lost = getattr(source, "lost_reason", None)
        if lost:
            summary.warnings.append(lost)
        return summary

    def _fill(
        self,
        summary: RunSummary,
        source: FrameSource,
        sink: RealTimeSink | None,
        elapsed: float,
        worker: OutputWorker,
    ) -> None:
        summary.elapsed_s = elapsed
        summary.frames_out = worker.frames_done
        summary.dropped = source.dropped
        summary.timings_ms = self.timer.summary_ms()
        summary.quality = self.level.describe()
        if sink is not None:
            summary.frames_written = sink.frames_written
            summary.duplicated = sink.duplicated

    def _loop(self, source, worker, summary, started, duration, max_frames) -> None:
        last: Explanation | None = None
        last_from: Explainer | None = None  # a new level or method recomputes at once
        since_cam = 0
        previous_end = time.perf_counter()
        last_status = 0.0
        frames = iter(source)
        while True:
            wait_start = time.perf_counter()
            frame = next(frames, None)
            if frame is None:
                return
            self.timer.add("read_wait", time.perf_counter() - wait_start)
            summary.frames_in += 1
            explainer = self._explainer()
            if last is None or explainer is not last_from or since_cam >= self.level.cam_every - 1:
                with self.timer.stage("preprocess"):
                    batch = model_input([frame.image], explainer.model.input_size)
                with self.timer.stage("cam"):
                    last = explainer.explain_batch(batch)[0]
                last_from, since_cam = explainer, 0
            else:
                since_cam += 1
            slot = min(self.controls.slot, len(last.targets) - 1)
            target = last.targets[slot]
            now = time.perf_counter()
            fps = summary.frames_in / max(now - started, 1e-9)
            hud = [f"{fps:4.1f} fps  {self.level.describe()}  {self.controls.method}"]
            hud += self.controls.recent_messages(now)
            timings = {"read_wait": self.timer.last("read_wait")}
            if since_cam == 0:
                timings.update(preprocess=self.timer.last("preprocess"), cam=self.timer.last("cam"))
            heatmap = self.smoother(target.heatmap)
            quality = self.level.describe()
            worker.submit(Processed(frame, last, target, heatmap, timings, hud, quality))
            self._handle_display(worker)
            frame_end = time.perf_counter()
            if self.governor is not None:
                moved = self.governor.record(frame_end - previous_end)
                if moved is not None:
                    self.level = moved
            previous_end = frame_end
            if self.status is not None and frame_end - last_status >= 1.0:
                last_status = frame_end
                self.status(
                    f"{summary.frames_in} frames  {fps:.1f} fps  {self.level.describe()}  "
                    f"dropped {source.dropped}  {target.name} {target.probability:.0%}"
                )
            elapsed = frame_end - started
            if self.controls.quit or (duration is not None and elapsed >= duration):
                return
            if max_frames is not None and summary.frames_in >= max_frames:
                return

    def _handle_display(self, worker: OutputWorker) -> None:
        if self.display is None or not self.display.enabled or worker.latest is None:
            return
        key = self.display.show(worker.latest)
        while True:
            self._handle_key(key, worker)
            if not self.controls.paused or self.controls.quit:
                return
            key = self.display.show(worker.latest, wait_ms=50)

    def _handle_key(self, key: int, worker: OutputWorker) -> None:
        controls = self.controls
        if key in KEY_QUIT:
            controls.quit = True
        elif key == ord(" "):
            controls.paused = not controls.paused
        elif key in (ord("n"), ord("p")):
            count = len(self.cache.targets)
            controls.slot = (controls.slot + (1 if key == ord("n") else -1)) % count
        elif key == ord("m"):
            self._switch_method()
        elif key in (ord("+"), ord("=")):
            self.renderer.alpha = min(1.0, round(self.renderer.alpha + 0.1, 2))
        elif key == ord("-"):
            self.renderer.alpha = max(0.0, round(self.renderer.alpha - 0.1, 2))
        elif key == ord("s") and worker.latest is not None:
            path = self.snapshot_dir / f"livecam-{time.strftime('%Y%m%d-%H%M%S')}.png"
            try:
                write_image(path, worker.latest)
            except OutputError as exc:  # e.g. a read-only folder: say so and go on
                controls.say(f"snapshot failed: {exc}")
                return
            controls.say(f"snapshot {path}")

    def _switch_method(self) -> None:
        method = self.controls.method
        for _ in METHODS:
            method = _next_method(method)
            try:
                self.cache.get(self.level, method)
            except MethodError as exc:
                self.controls.say(str(exc))
                continue
            self.controls.method = method
            return
