"""Live maps beside the video: a thread that explains the newest frame whenever
it is free, and a builder that prepares another quality level in the
background, so neither a slow CAM step nor a change of level ever makes the
video wait (the flow limiter of MediaPipe, the inference interval of DeepStream).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from livecam.cam.targets import Target
from livecam.errors import last_line
from livecam.explain import Explainer, Explanation
from livecam.frames import prepare
from livecam.media.sources import Frame
from livecam.tuning.governor import QualityLevel
from livecam.video.explainers import ExplainerCache


@dataclass(frozen=True)
class LiveMap:
    """One map and what it was computed on.

    Attributes:
        seq: 1 for the first map of the run, then 2, 3, ...
        frame: The frame it explains (its ``time_s`` is its capture time).
        explanation: Predictions and maps.
        level: The quality it was computed at.
        method: The CAM method.
        step_s: Seconds the step took (resize + compiled CAM step).
        done_at: ``time.perf_counter()`` when it was published.
    """

    seq: int
    frame: Frame
    explanation: Explanation
    level: QualityLevel
    method: str
    step_s: float
    done_at: float


Choice = tuple[Explainer, QualityLevel, str]


class CamWorker:
    """Explains the newest frame offered whenever it is free.

    One map is in flight at a time; frames offered meanwhile replace each other,
    so nothing queues up and the map is never older than one step. An error in
    the step stops the worker and is kept in :attr:`error` for the caller.

    Args:
        choose: Called before each step (on this thread): the explainer, its
            level and its method. It may build an explainer: only maps wait.
        on_map: Called with each new map (on this thread).
    """

    def __init__(
        self, choose: Callable[[], Choice], on_map: Callable[[LiveMap], None] | None = None
    ) -> None:
        self._choose = choose
        self._on_map = on_map
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._stopped = False
        self.latest: LiveMap | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="livecam-cam")
        self._thread.start()

    def offer(self, frame: Frame) -> None:
        """Explain ``frame`` next, instead of any frame still waiting."""
        with self._cond:
            self._pending = frame
            self._cond.notify()

    def wait_for_map(self, after_seq: int, timeout: float) -> LiveMap | None:
        """Block until a map newer than ``after_seq`` exists (or the worker
        failed, or ``timeout`` passed); returns the latest map."""
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self.error is not None
                    or (self.latest is not None and self.latest.seq > after_seq)
                ),
                timeout,
            )
            return self.latest

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    def _next_frame(self) -> Frame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._stopped or self._pending is not None)
            if self._stopped:
                return None
            frame, self._pending = self._pending, None
            return frame

    def _run(self) -> None:
        seq = 0
        while (frame := self._next_frame()) is not None:
            try:
                explainer, level, method = self._choose()
                started = time.perf_counter()
                batch = prepare(frame.image, explainer.model.input_size)[None]
                explanation = explainer.explain_batch(batch)[0]
                done_at = time.perf_counter()
                seq += 1
                live_map = LiveMap(
                    seq, frame, explanation, level, method, done_at - started, done_at
                )
                if self._on_map is not None:
                    self._on_map(live_map)
            except BaseException as exc:  # handed to the display loop, which re-raises it
                with self._cond:
                    self.error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self.latest = live_map
                self._cond.notify_all()


class VariantBuilder:
    """Builds and traces one other quality level at a time, in the background,
    while the current level keeps producing maps."""

    def __init__(self, cache: ExplainerCache) -> None:
        self.cache = cache
        self._lock = threading.Lock()
        self._busy: QualityLevel | None = None
        self._ready: QualityLevel | None = None
        self.failed: dict[QualityLevel, str] = {}

    def request(
        self, level: QualityLevel, method: str, targets: list[Target] | None = None
    ) -> None:
        """Start building ``level`` unless a build is under way."""
        with self._lock:
            if self._busy is not None:
                return
            if self.cache.ready(level, method, targets):
                self._ready = level
                return
            self._busy = level
        threading.Thread(
            target=self._build, args=(level, method, targets), daemon=True, name="livecam-build"
        ).start()

    def _build(self, level: QualityLevel, method: str, targets: list[Target] | None) -> None:
        try:
            self.cache.get(level, method, targets).warm_up()  # trace here, not on the CAM thread
        except Exception as exc:  # out of memory, a Keras error: that level is not used
            kind, reason = type(exc).__name__, last_line(exc)
            with self._lock:
                self.failed[level] = reason if reason == kind else f"{kind}: {reason}"
                self._busy = None
            return
        with self._lock:
            self._ready, self._busy = level, None

    def unusable(self) -> dict[QualityLevel, str]:
        """The levels whose build failed, and why (a copy: the build thread adds to them)."""
        with self._lock:
            return dict(self.failed)

    @property
    def busy(self) -> bool:
        """Whether a build is under way (it competes with the CAM step for the CPU)."""
        with self._lock:
            return self._busy is not None

    def take_ready(self) -> QualityLevel | None:
        """The level built since the last call, if any."""
        with self._lock:
            ready, self._ready = self._ready, None
            return ready
