"""The live loop: camera or stream -> overlay window / recording, with the
maps computed beside the video.

The display loop shows every frame the live reader delivers, at the source's
pace, blended with the latest map; a :class:`~livecam.video.cam_worker.CamWorker`
explains the newest frame whenever it is free; rendering, recording and
logging run on the output thread. With a target, a
:class:`~livecam.tuning.governor.Governor` picks the quality of the maps, and a
new level is built in the background while the current one keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livecam.errors import LivecamError
from livecam.explain import TargetMap
from livecam.media.sinks import RealTimeSink, VideoSink
from livecam.media.sources import Frame, FrameSource
from livecam.render import HeatmapRenderer
from livecam.timing import RateMeter, StageTimer, percentiles
from livecam.tuning.governor import CostCache, Governor, QualityLevel
from livecam.video.cam_worker import CamWorker, Choice, LiveMap, VariantBuilder
from livecam.video.explainers import ExplainerCache
from livecam.video.follow import MapFollower
from livecam.video.live_controls import KeyHandler, LiveControls, hud_line, status_line
from livecam.video.outputs import FrameLog, LatestOverlay, OverlayCallback, OverlayVideo
from livecam.video.pipeline import (
    MapSmoother,
    OutputWorker,
    Processed,
    RunSummary,
    aborting_keeps,
    draw_hud,
    signals_deferred,
)
from livecam.video.quality import QualityController

__all__ = ["ExplainerCache", "LiveControls", "LiveRunner"]

FIRST_MAP_TIMEOUT_S = 120.0  # the first step of a large model on a slow machine
StatusCallback = Callable[[str], None]


@dataclass
class _Shown:
    """The map the display loop currently blends, and its target's heatmap."""

    live_map: LiveMap
    target: TargetMap
    rank: int  # 1-based, among the explained targets
    heatmap: np.ndarray


class LiveRunner:
    """Runs a live source until it ends, a limit is reached, or the user quits.

    Args:
        cache: The explainers (model, targets) to use.
        renderer: Overlay settings; ``+``/``-`` change its alpha.
        fps_target: Maps per second to sustain by lowering their quality (None:
            full quality). The video always runs at the source's pace.
        smooth: Exponential moving average of maps, applied as they arrive.
        follow: Warp the latest map to each frame shown with dense optical
            flow, so it keeps up with motion between maps.
        display: Show a window (when one can be opened).
        status: Called about once a second with a one-line status while there
            is no window (none asked for, or it failed).
        on_overlay: Called on the output thread with each overlay and the
            frame it was made from (e.g. to serve it to browsers). Without a
            window, setting ``controls.paused`` drops frames until unset.
        snapshot_dir: Where ``s`` saves PNG snapshots.
        cost_cache: Where the governor's measured costs persist (default: the
            user cache directory); only used with ``fps_target``.
    """

    def __init__(
        self,
        cache: ExplainerCache,
        renderer: HeatmapRenderer,
        *,
        fps_target: float | None = None,
        smooth: float = 0.0,
        follow: bool = False,
        display=None,
        status: StatusCallback | None = None,
        on_overlay: Callable[[np.ndarray, Processed], None] | None = None,
        snapshot_dir: Path = Path("."),
        cost_cache: CostCache | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.cache = cache
        self.announce = announce  # told before the fidelity gate measures (seconds)
        self.renderer = renderer
        self.fps_target = fps_target
        self._window_frame = LatestOverlay()  # the overlay the window shows next
        self.quality = QualityController(cache, fps_target, cost_cache, announce, self._problem)
        self.smoother = MapSmoother(smooth)
        self.follower = MapFollower() if follow else None
        self.display = display
        self.status = status
        self.on_overlay = on_overlay
        self.controls = LiveControls(method=cache.method)
        self.keys = KeyHandler(
            self.controls,
            renderer,
            target_count=lambda: len(self.cache.targets),
            can_run=lambda method: self.cache.get(self.level, method),
            snapshot_dir=snapshot_dir,
        )
        self.timer = StageTimer()
        self.video_rate = RateMeter()
        self.map_rate = RateMeter()
        self.maps = 0
        self.paused_s = 0.0
        self._reported_failure = False

    # The quality of the maps (:class:`~livecam.video.quality.QualityController`)

    @property
    def level(self) -> QualityLevel:
        return self.quality.level

    @level.setter
    def level(self, level: QualityLevel) -> None:
        self.quality.level = level

    @property
    def levels(self) -> list[QualityLevel]:
        return self.quality.levels

    @property
    def governor(self) -> Governor | None:
        return self.quality.governor

    @property
    def builder(self) -> VariantBuilder:
        return self.quality.builder

    @property
    def refused(self) -> dict[str, str]:
        return self.quality.refused

    @property
    def problems(self) -> list[str]:
        """What went wrong beside the loop, which carried on."""
        return self.quality.problems

    # The CAM thread ---------------------------------------------------------------

    def _choose(self) -> Choice:
        level = self.quality.current()
        method, targets = self.controls.method, self.controls.targets
        return self.cache.get(level, method, targets), level, method

    def _on_map(self, live_map: LiveMap) -> None:
        self.maps += 1
        self.map_rate.add(live_map.done_at)
        self.quality.measured(live_map, self.controls.targets)

    def _problem(self, text: str) -> None:
        """Something beside the loop failed (the controller keeps it for
        ``/api/status``): on the HUD and the status line; the loop carries on."""
        self.controls.say(text)
        if self.status is not None:
            self.status(f"warning: {text}")

    # The display loop -------------------------------------------------------------

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
        """Show and record frames until the end; recording and log are always
        finalised. ``duration`` counts time not paused.

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
                sink = stack.enter_context(RealTimeSink(video))  # closing it closes the video
            log = stack.enter_context(open(log_path, "w", encoding="utf-8")) if log_path else None
            self.cache.get(self.level, self.controls.method).warm_up()  # trace before the clock
            with aborting_keeps(summary, stack):
                worker = OutputWorker(self.renderer, self.timer, self._outputs(sink, log))
                cam = CamWorker(self._choose, self._on_map)
                started = time.perf_counter()
                intervals: list[float] = []
                try:
                    self._loop(source, cam, worker, summary, intervals, duration, max_frames)
                except KeyboardInterrupt:
                    summary.interrupted = True
                finally:
                    with signals_deferred(summary):
                        cam.close()
                        worker.close()
                        if self.display is not None:
                            self.display.close()
                        active = time.perf_counter() - started - self.paused_s
                        try:
                            stack.close()  # the recording is finalised, whatever signal comes
                        finally:  # (after it: the frames held to measure the rate count)
                            self._fill(summary, source, sink, active, worker, intervals)
                if worker.error is not None:
                    raise worker.error
                if cam.error is not None:
                    raise cam.error
        self.quality.remember_costs()
        summary.warnings.extend(self.problems)
        lost = getattr(source, "lost_reason", None)
        if lost:
            summary.warnings.append(lost)
        return summary

    def _outputs(self, sink, log) -> list:
        """The recording, the log, the window's newest frame and ``on_overlay``, as asked."""
        outputs = [OverlayVideo(sink)] if sink is not None else []
        outputs += [FrameLog(log)] if log is not None else []
        if self.display is not None and self.display.enabled:
            outputs.append(self._window_frame)
        outputs += [OverlayCallback(self.on_overlay)] if self.on_overlay is not None else []
        return outputs

    def _fill(self, summary, source, sink, active_s, worker, intervals) -> None:
        summary.elapsed_s = active_s
        summary.frames_out = worker.frames_done
        summary.dropped = source.dropped
        summary.timings_ms = self.timer.summary_ms()
        summary.quality = self.level.describe()
        summary.maps = self.maps
        summary.maps_per_s = self.maps / active_s if active_s > 0 else None
        if intervals:
            summary.frame_interval_p99_ms = percentiles(intervals, [99])["p99"] * 1000
        if sink is not None:
            summary.frames_written = sink.frames_written
            summary.duplicated = sink.duplicated

    def _loop(self, source, cam, worker, summary, intervals, duration, max_frames) -> None:
        shown: _Shown | None = None
        previous_at: float | None = None
        last_status = 0.0
        paused_since: float | None = None
        started = time.perf_counter()
        frames = iter(source)
        while True:
            wait_start = time.perf_counter()
            frame = next(frames, None)
            if frame is None:
                return
            self.timer.add("read_wait", time.perf_counter() - wait_start)
            summary.frames_in += 1
            if self.controls.quit:
                return
            if self.controls.paused and self._headless():  # paused from outside: drop frames
                paused_since = paused_since or time.perf_counter()
                continue
            if paused_since is not None:
                paused = time.perf_counter() - paused_since
                self.paused_s += paused
                previous_at = None if previous_at is None else previous_at + paused
                paused_since = None
            if not self.controls.paused:
                cam.offer(frame)
            shown, new_map = self._latest_map(cam, shown)
            now = time.perf_counter()
            if previous_at is not None:
                intervals.append(now - previous_at)
            previous_at = now
            self.video_rate.add(now)
            worker.submit(self._processed(frame, shown, new_map, now))
            paused = self._handle_display()
            self.paused_s += paused
            previous_at += paused  # a pause is not a slow frame
            if self._headless() and self.status is not None and now - last_status >= 1.0:
                last_status = now
                self.status(self._status_text(summary, source, shown))
            active = time.perf_counter() - started - self.paused_s
            if self.controls.quit or (duration is not None and active >= duration):
                return
            if max_frames is not None and summary.frames_in >= max_frames:
                return

    def _latest_map(self, cam: CamWorker, shown: _Shown | None) -> tuple[_Shown, bool]:
        """The map to blend on this frame (waiting only for the very first)."""
        latest = cam.latest
        if latest is None:
            latest = cam.wait_for_map(0, FIRST_MAP_TIMEOUT_S)
        if cam.error is not None:
            raise cam.error
        if latest is None:
            raise LivecamError(f"no map after {FIRST_MAP_TIMEOUT_S:g} s: the CAM step hangs")
        if shown is not None and latest is shown.live_map:
            return shown, False
        targets = latest.explanation.targets
        slot = min(self.controls.slot, len(targets) - 1)
        target = targets[slot]
        return _Shown(latest, target, slot + 1, self.smoother(target.heatmap)), True

    def _processed(self, frame: Frame, shown: _Shown, new_map: bool, now: float) -> Processed:
        live_map = shown.live_map
        age_ms = (frame.time_s - live_map.frame.time_s) * 1000.0
        timings = {"read_wait": self.timer.last("read_wait")}
        if new_map:
            timings["cam"] = live_map.step_s
        heatmap = shown.heatmap
        if self.follower is not None:  # every frame: it follows the scene frame to frame
            with self.timer.stage("follow"):
                heatmap = self.follower.follow(heatmap, live_map.frame, frame)
            timings["follow"] = self.timer.last("follow")
        fields = {
            "map_seq": live_map.seq,
            "map_age_ms": round(age_ms, 1),
            "quality": live_map.level.describe(),
            "method": live_map.method,
            "rank": shown.rank,
            "alpha": self.renderer.alpha,
        }
        hud = [self._hud_line(shown, age_ms), *self.controls.recent_messages(now)]
        if self.controls.paused:
            hud.append("paused")
        return Processed(frame, live_map.explanation, shown.target, heatmap, timings, hud, fields)

    def _hud_line(self, shown: _Shown, age_ms: float) -> str:
        live_map = shown.live_map
        return hud_line(
            video_fps=self.video_rate.rate(),
            maps_per_s=self.map_rate.rate(),
            fps_target=self.fps_target,
            age_ms=age_ms,
            quality=live_map.level.describe(),
            method=live_map.method,
            rank=shown.rank,
            count=len(live_map.explanation.targets),
            target=shown.target,
        )

    def _status_text(self, summary: RunSummary, source: FrameSource, shown: _Shown) -> str:
        return status_line(
            frames=summary.frames_in,
            video_fps=self.video_rate.rate(),
            maps_per_s=self.map_rate.rate(),
            quality=self.level.describe(),
            dropped=source.dropped,
            target=shown.target,
        )

    def _headless(self) -> bool:
        """True without a window; the first time a window fails, says so."""
        if self.display is None or self.display.enabled:
            return self.display is None
        if self.display.failure and not self._reported_failure and self.status is not None:
            self._reported_failure = True
            self.status(f"the window failed ({self.display.failure}); running headless")
        return True

    def _handle_display(self) -> float:
        """Show the newest overlay and act on keys; returns the seconds paused."""
        window = self._window_frame
        if self.display is None or not self.display.enabled or window.latest is None:
            return 0.0
        key = self.display.show(window.latest)
        self.keys(key, window.latest)
        if not self.controls.paused or self.controls.quit:
            return 0.0
        paused_at = time.perf_counter()
        while self.controls.paused and not self.controls.quit and self.display.enabled:
            frozen = window.latest.copy()
            draw_hud(
                frozen, ["", "", *self.controls.recent_messages(time.perf_counter()), "paused"]
            )
            key = self.display.show(frozen, wait_ms=50)
            self.keys(key, window.latest)
        return time.perf_counter() - paused_at
