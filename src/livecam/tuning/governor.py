"""Chooses the quality of the live maps: the best input size (then precision)
whose CAM step sustains the target number of maps per second.

It predicts rather than walks: from about half a second of measured steps at
the current level it estimates every other level's cost (each level's best
cost seen so far, or, never measured, the nearest measured one scaled by
pixels), scales them all by the load it measures now, and goes straight to the
best level that fits. Measured costs persist per machine, model, method,
precision and size in a small JSON cache, so the next start begins at the
right level.
"""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livecam.cache import JsonStore, cache_root
from livecam.errors import LivecamError
from livecam.timing import cpu_name

# Below 96 only for the heaviest models (VGG16 needs 64 px for 15 maps/s on 2 cores).
LADDER_SIZES = (224, 192, 160, 128, 112, 96, 80, 64)
WINDOW_S = 0.5  # measure this long at a level before judging it
MIN_SAMPLES = 3
CLIMB_MARGIN = 0.9  # a better level must fit with 10 % to spare: no flapping
NEAR_FASTEST = 1.05  # where none fits, levels within 5 % of the fastest count as fastest
LOAD_FREE = 1.1  # within 10 % of a level's best cost, there is no load to speak of
SLOW_WINDOWS = 2  # a level that held the target is left after this many slow windows in a row
CACHE_VERSION = 3  # 2: Flatten heads fold their resize; 3: keyed by the whole profile


@dataclass(frozen=True)
class QualityLevel:
    """The input size and precision the CAM step runs at."""

    input_size: int
    precision: str = "float32"

    def describe(self) -> str:
        return f"{self.input_size}px {self.precision}"


def ladder(
    native_size: int, precisions: tuple[str, ...] = ("float32",), resizable: bool = True
) -> list[QualityLevel]:
    """Every level, best quality first: sizes down from the native one (only
    it where the model is not ``resizable``), each size in the given
    precisions (the first is the preferred one; another is only chosen where
    it measures faster)."""
    smaller = [s for s in LADDER_SIZES if s < native_size] if resizable else []
    sizes = [native_size, *smaller]
    return [QualityLevel(size, precision) for size in sizes for precision in precisions]


class Governor:
    """Picks the level from measured CAM step durations.

    Args:
        target_maps_per_s: Maps per second to sustain.
        levels: Candidate levels, best quality first (see :func:`ladder`).
        known_costs: Seconds per map measured earlier (e.g. from the cache),
            taken as this machine's unloaded costs.
    """

    def __init__(
        self,
        target_maps_per_s: float,
        levels: list[QualityLevel],
        known_costs: dict[QualityLevel, float] | None = None,
    ) -> None:
        if target_maps_per_s <= 0:
            raise LivecamError(f"fps target must be positive, got {target_maps_per_s}")
        if not levels:
            raise LivecamError("the governor needs at least one quality level")
        self.period = 1.0 / target_maps_per_s
        self.levels = list(levels)
        self.best_costs = {lv: c for lv, c in (known_costs or {}).items() if lv in self.levels}
        self.rejected: set[QualityLevel] = set()
        # Levels seen sustaining the target: coming back to one needs no margin.
        self.proven: set[QualityLevel] = set()
        self.level = self.levels[0]
        if self.best_costs:
            self.level = self.choose(load=1.0)
        self.load = 1.0
        self.changes = 0
        self._samples: list[float] = []
        self._slow_windows = 0
        self._judged = False  # whether a window at the current level was judged

    def estimate(self, level: QualityLevel) -> float | None:
        """The level's unloaded cost: measured; else, from two or more measured
        sizes, a fixed part plus a part per pixel fitted to them (a dense head
        costs the same at every size); from one, that cost scaled by pixels.
        A precision never measured at any size is scaled from another by the
        ratio of the two where both were measured at one size."""
        if level in self.best_costs:
            return self.best_costs[level]
        by_size = self._by_pixels(level)
        if by_size is not None:
            return by_size
        for other in {lv.precision for lv in self.best_costs} - {level.precision}:
            ratio = self.precision_ratio(level.precision, other)
            base = self._by_pixels(QualityLevel(level.input_size, other))
            if ratio is not None and base is not None:
                return base * ratio
        return None

    def precision_ratio(self, precision: str, other: str) -> float | None:
        """Cost in ``precision`` over cost in ``other``, at a size measured in both."""
        for level, cost in self.best_costs.items():
            twin = QualityLevel(level.input_size, other)
            if level.precision == precision and twin in self.best_costs:
                return cost / self.best_costs[twin]
        return None

    def _by_pixels(self, level: QualityLevel) -> float | None:
        if level in self.best_costs:
            return self.best_costs[level]
        known = [
            (lv.input_size**2, c)
            for lv, c in self.best_costs.items()
            if lv.precision == level.precision
        ]
        if not known:
            return None
        pixels = level.input_size**2
        if len({p for p, _ in known}) < 2:
            nearest_pixels, cost = known[0]
            return cost * pixels / nearest_pixels
        per_pixel, fixed = np.polyfit(*zip(*known, strict=True), deg=1)
        per_pixel, fixed = max(per_pixel, 0.0), max(fixed, 0.0)
        return fixed + per_pixel * pixels

    def choose(self, load: float, keep: QualityLevel | None = None) -> QualityLevel:
        """The best level predicted to sustain the target under ``load``, else
        the best of the fastest ones known. A level must fit with a margin
        (one at the very edge of the budget would drop below the target with
        every hiccup), unless it is ``keep`` (the current one, adopted) or has
        proven itself (see :meth:`record`): those need only fit."""
        usable = [lv for lv in self.levels if lv not in self.rejected]
        predicted = {lv: cost * load for lv in usable if (cost := self.estimate(lv)) is not None}
        for level in usable:
            sure = level == keep or level in self.proven
            limit = self.period if sure else self.period * CLIMB_MARGIN
            if level in predicted and predicted[level] <= limit:
                return level
        if not predicted:
            return usable[0]
        # None fits: the best quality among the fastest (where the cost is
        # flat, e.g. VGG16's dense head in bfloat16, smaller sizes gain nothing).
        fastest = min(predicted.values())
        return next(lv for lv in usable if predicted.get(lv, np.inf) <= fastest * NEAR_FASTEST)

    def record(self, seconds: float, level: QualityLevel) -> QualityLevel | None:
        """Add one CAM step's duration at ``level``; after about half a second
        of them, returns the level to move to when it differs (else None).
        Steps at another level than the current one (still in flight when it
        changed) are ignored."""
        if level != self.level:
            return None
        self._samples.append(seconds)
        if len(self._samples) < MIN_SAMPLES or sum(self._samples) < WINDOW_S:
            return None
        cost = statistics.median(self._samples)
        self._samples.clear()
        known = level in self.best_costs
        if not known:
            # Two guesses at the load now: the one measured at the last level (it
            # may be stale) and this cost against the prediction (biased where
            # the cost is not proportional to pixels). The lower one errs on the
            # side of a costlier level, which later measurements correct.
            predicted = self.estimate(level)
            if predicted is not None:
                self.load = min(self.load, max(1.0, cost / predicted))
            self.best_costs[level] = cost / self.load
        self._slow_windows = self._slow_windows + 1 if cost > self.period else 0
        if known and 0 < self._slow_windows < SLOW_WINDOWS:
            return None  # one slow window (a hiccup, a build beside) is not a trend
        self.load = max(1.0, cost / self.best_costs[level])
        self.best_costs[level] = min(self.best_costs[level], cost)
        if self.load <= LOAD_FREE:  # as fast as it gets here: no other load to speak of
            if self._slow_windows:
                self.proven.discard(level)  # too slow even unloaded
            elif cost <= self.period * CLIMB_MARGIN:
                # It held the target with the margin: it is kept, and come back
                # to, while it merely fits.
                self.proven.add(level)
        # A level never measured before is adopted by its first window, where it
        # must fit with the margin; after that, and for a known one, fitting will do.
        keep = self.level if self._judged or known else None
        self._judged = True
        wanted = self._probe(cost) or self.choose(self.load, keep)
        return wanted if wanted != self.level else None

    def _probe(self, cost: float) -> QualityLevel | None:
        """Too slow, with another precision never tried: try it at this size
        once (bfloat16 is twice as fast on some CPUs, slower on others)."""
        if cost <= self.period:
            return None
        for level in self.levels:
            untried = not any(lv.precision == level.precision for lv in self.best_costs)
            if level.input_size == self.level.input_size and untried and level not in self.rejected:
                return level
        return None

    def switched(self, level: QualityLevel) -> None:
        """The runner now computes maps at ``level``."""
        if level != self.level:
            self.level = level
            self.changes += 1
        self._samples.clear()
        self._slow_windows = 0
        self._judged = False

    def reject(self, level: QualityLevel) -> None:
        """A level the model cannot run: never chosen again."""
        self.rejected.add(level)


def machine_id() -> str:
    """What makes costs comparable: the CPU model, its core count, the platform."""
    return f"{platform.system()} {cpu_name()} x{os.cpu_count()}"


def cache_path() -> Path:
    """``governor.json`` in the cache root (:func:`livecam.cache.cache_root`)."""
    return cache_root() / "governor.json"


class CostCache:
    """Measured seconds per map, by machine, model, profile (the method and all
    else that changes the cost: options, layer, targets), precision and size.

    A missing, corrupt or foreign file reads as empty and is rewritten on
    :meth:`save`; a cache that cannot be written is only a slower next start.
    Two runs saving at once keep both runs' costs (:class:`~livecam.cache.JsonStore`).
    """

    def __init__(self, path: Path | None = None, machine: str | None = None) -> None:
        self.path = path or cache_path()
        self.machine = machine or machine_id()
        self._store = JsonStore(self.path, CACHE_VERSION, "costs")
        self._entries = self._read()
        self._measured: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {
            key: float(value)
            for key, value in self._store.read().items()
            if isinstance(key, str) and isinstance(value, (int, float)) and value > 0
        }

    def _key(self, model: str, profile: str, level: QualityLevel) -> str:
        return f"{self.machine}|{model}|{profile}|{level.precision}|{level.input_size}"

    def costs(self, model: str, profile: str, levels: list[QualityLevel]) -> dict:
        """The known costs of ``levels`` for this machine, model and profile."""
        found = {lv: self._entries.get(self._key(model, profile, lv)) for lv in levels}
        return {lv: cost for lv, cost in found.items() if cost is not None}

    def update(self, model: str, profile: str, costs: dict[QualityLevel, float]) -> None:
        for level, cost in costs.items():
            self._measured[self._key(model, profile, level)] = round(cost, 6)
        self._entries.update(self._measured)

    def save(self) -> None:
        """Merge this run's costs into the file; failures are ignored (the cache is only a hint)."""
        self._store.update(self._measured)
