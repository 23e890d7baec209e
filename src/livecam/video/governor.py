"""Holds a frame-rate target by moving along a quality ladder.

The ladder goes down in input size first (the cheapest loss of quality), then
tries each mixed-precision policy at the smallest size and keeps it only if it
measures faster here, then refreshes the map only every n-th frame. It climbs
back when a higher level's measured cost fits the target with headroom.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from livecam.errors import LivecamError

LADDER_SIZES = (192, 160, 128, 96)
MIXED_POLICIES = ("mixed_bfloat16", "mixed_float16")
CAM_EVERY_STEPS = (2, 3, 4, 6, 8, 12, 16)
WARMUP_FRAMES = 2  # not measured: the first frames at a level pay for tracing
QUICK_FRAMES = 3
QUICK_FACTOR = 1.5


@dataclass(frozen=True)
class QualityLevel:
    """Input size, precision, and how often the CAM is recomputed."""

    input_size: int
    precision: str = "float32"
    cam_every: int = 1

    def describe(self) -> str:
        every = "" if self.cam_every == 1 else f", cam every {self.cam_every}"
        return f"{self.input_size}px {self.precision}{every}"


class Governor:
    """Chooses the quality level from the measured frame times.

    Args:
        target_fps: Frames per second to hold end to end.
        native_size: The model's input size (the top of the ladder).
        window: Frames measured at a level before judging it.
        headroom: Climb only when the upper level's cost times this fits.
    """

    def __init__(
        self, target_fps: float, native_size: int, window: int = 12, headroom: float = 1.15
    ) -> None:
        if target_fps <= 0:
            raise LivecamError(f"fps target must be positive, got {target_fps}")
        self.period = 1.0 / target_fps
        self.sizes = [native_size, *(s for s in LADDER_SIZES if s < native_size)]
        self.window = window
        self.headroom = headroom
        self.costs: dict[QualityLevel, float] = {}
        # cost of the level above / cost of this level, measured back to back
        self.ratios: dict[QualityLevel, float] = {}
        self._came_from: QualityLevel | None = None
        self.rejected: set[QualityLevel] = set()
        self.level = QualityLevel(native_size)
        self._samples: list[float] = []
        self.changes = 0

    def _key(self, level: QualityLevel) -> tuple[int, int, int]:
        """Position in the ladder's order: lower is better quality."""
        size_rank = self.sizes.index(level.input_size) if level.input_size in self.sizes else 99
        precision_rank = (
            0 if level.precision == "float32" else 1 + MIXED_POLICIES.index(level.precision)
        )
        return (level.cam_every, precision_rank, size_rank)

    def ladder(self) -> list[QualityLevel]:
        """Best quality first; levels found unusable or slower are left out."""
        sizes = [
            QualityLevel(size) for size in self.sizes if QualityLevel(size) not in self.rejected
        ]
        smallest = sizes[-1].input_size if sizes else self.sizes[0]
        mixed = [QualityLevel(smallest, policy) for policy in MIXED_POLICIES]
        measured = [lv for lv in (QualityLevel(smallest), *mixed) if lv in self.costs]
        fastest = min(measured, key=self.costs.__getitem__, default=QualityLevel(smallest))
        slower = [QualityLevel(fastest.input_size, fastest.precision, n) for n in CAM_EVERY_STEPS]
        return [lv for lv in (*sizes, *mixed, *slower) if lv not in self.rejected]

    def reject(self, level: QualityLevel) -> QualityLevel | None:
        """Mark a level the model cannot run and step past it. A model that
        cannot take one smaller input size (a head fixed to its native size)
        takes none, so all of them go at once."""
        self.rejected.add(level)
        if level.input_size != self.sizes[0]:
            self.rejected.update(QualityLevel(size) for size in self.sizes[1:])
        if self.level not in self.rejected:
            return None
        return self._step_down(level)

    def record(self, frame_seconds: float) -> QualityLevel | None:
        """Add one end-to-end frame time; returns the new level when it changes."""
        self._samples.append(frame_seconds)
        measured = self._samples[WARMUP_FRAMES:]  # the first frames pay for tracing
        needed = max(self.window, 2 * self.level.cam_every)
        if len(measured) < needed and not self._clearly_too_slow(measured):
            return None
        cost = statistics.fmean(measured)
        self.costs[self.level] = cost
        self._samples.clear()
        if self._came_from is not None:
            self.ratios[self.level] = self.costs[self._came_from] / cost
            self._came_from = None
        if cost > self.period:
            self._reject_if_slower_precision()
            return self._step_down(self.level)
        return self._maybe_climb()

    def _clearly_too_slow(self, measured: list[float]) -> bool:
        """A few frames far over budget are enough to leave a level (a slow
        model would otherwise stall for a whole window at each rung)."""
        return (
            self.level.cam_every == 1
            and len(measured) >= QUICK_FRAMES
            and statistics.fmean(measured) > QUICK_FACTOR * self.period
        )

    def _reject_if_slower_precision(self) -> None:
        if self.level.precision == "float32" or self.level.cam_every != 1:
            return
        baseline = self.costs.get(QualityLevel(self.level.input_size))
        if baseline is not None and self.costs[self.level] >= baseline:
            self.rejected.add(self.level)

    def _step_down(self, current: QualityLevel) -> QualityLevel | None:
        below = [lv for lv in self.ladder() if self._key(lv) > self._key(current)]
        if not below:
            return None
        self._came_from = current if current in self.costs else None
        return self._set(below[0])

    def _maybe_climb(self) -> QualityLevel | None:
        above = [lv for lv in self.ladder() if self._key(lv) < self._key(self.level)]
        if not above:
            return None
        # The upper level's cost now, scaled from this level's fresh cost by
        # the ratio measured when we stepped down: load may have changed since.
        ratio = self.ratios.get(self.level)
        if ratio is None:
            return None
        if self.costs[self.level] * ratio * self.headroom <= self.period:
            return self._set(above[-1])
        return None

    def _set(self, level: QualityLevel) -> QualityLevel:
        self.level = level
        self._samples.clear()
        self.changes += 1
        return level
