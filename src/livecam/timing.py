"""Per-stage timings and the statistics the HUD, the log and the benchmark use."""

from __future__ import annotations

import platform
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

STAGES = ("read_wait", "preprocess", "cam", "follow", "render", "write")


def percentiles(
    samples: Sequence[float], points: Sequence[float] = (50, 95, 99)
) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` of ``samples`` (linear interpolation)."""
    if len(samples) == 0:
        return {f"p{p:g}": float("nan") for p in points}
    values = np.percentile(np.asarray(samples, dtype=np.float64), points)
    return {f"p{p:g}": float(v) for p, v in zip(points, values, strict=True)}


def fps_from_timestamps(timestamps: Sequence[float]) -> float:
    """Frames per second from frame completion times: N timestamps are N-1 intervals."""
    if len(timestamps) < 2:
        return float("nan")
    span = timestamps[-1] - timestamps[0]
    return (len(timestamps) - 1) / span if span > 0 else float("inf")


class StageTimer:
    """Collects durations per stage (seconds), thread-safe enough for appends."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.samples[name].append(time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.samples[name].append(seconds)

    def last(self, name: str) -> float:
        values = self.samples.get(name)
        return values[-1] if values else 0.0

    def summary_ms(self) -> dict[str, dict[str, float]]:
        """Per stage: p50/p95/p99 and mean in milliseconds."""
        result = {}
        for name, values in self.samples.items():
            stats = {key: value * 1000 for key, value in percentiles(values).items()}
            stats["mean"] = float(np.mean(values)) * 1000 if values else float("nan")
            result[name] = stats
        return result


class RateMeter:
    """Events per second over the last ``window_s`` seconds; thread-safe (one
    thread adds, the HUD and the web status read)."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def add(self, at: float | None = None) -> None:
        with self._lock:
            self._times.append(time.perf_counter() if at is None else at)

    def rate(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        with self._lock:
            while self._times and now - self._times[0] > self.window_s:
                self._times.popleft()
            return len(self._times) / self.window_s


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
