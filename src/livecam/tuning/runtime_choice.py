"""``--runtime auto``: the runtime whose Grad-CAM step measures faster here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from livecam import runtime as runtimes
from livecam.cam import CamEngine
from livecam.errors import RuntimeChoiceError
from livecam.models import LoadedModel
from livecam.tuning.governor import CostCache, QualityLevel

AUTO_FRAMES = 8  # Grad-CAM steps timed on each runtime to choose one


@dataclass(frozen=True)
class RuntimeChoice:
    """What ``--runtime auto`` chose and why.

    Attributes:
        runtime: The runtime's name (``tensorflow``, ``openvino``).
        ms_per_map: The Grad-CAM step's median cost on each runtime measured
            (this run or an earlier one on this machine, from the cache).
        reason: Why the others were not measured, if they were not.
    """

    runtime: str
    ms_per_map: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def choose(model: LoadedModel, costs: CostCache | None = None) -> RuntimeChoice:
    """The runtime that runs ``model`` (at its precision) and measures the
    fastest Grad-CAM step on this machine, the reference where another fails.
    The costs persist in the governor's cache (``costs``), per machine, model,
    layers, precision and size, so the next start measures nothing."""
    usable = [
        name
        for name, runtime in runtimes.RUNTIMES.items()
        if runtime.unavailable(model.precision) is None
    ]
    reference = runtimes.REFERENCE
    if not usable:
        raise RuntimeChoiceError(
            f"no runtime here runs precision {model.precision!r}: "
            + "; ".join(r.unavailable(model.precision) or "" for r in runtimes.RUNTIMES.values())
        )
    if len(usable) == 1:
        others = [n for n in runtimes.RUNTIMES if n not in usable]
        why = "; ".join(runtimes.get(n).unavailable(model.precision) or "" for n in others)
        return RuntimeChoice(usable[0], reason=why)
    costs = costs or CostCache()
    level = QualityLevel(model.input_size[0], model.precision)
    profile = f"runtime-choice|{','.join(model.cam_layers)}"
    measured: dict[str, float] = {}
    for name in usable:
        known = costs.costs(f"{model.name}@{name}", profile, [level]).get(level)
        if known is None:
            try:
                known = _step_cost(replace(model, runtime=name))
            except Exception as exc:  # any failure to convert or run: not that runtime
                if name == reference:
                    raise
                return RuntimeChoice(reference, measured, f"{name} failed: {exc}")
            costs.update(f"{model.name}@{name}", profile, {level: known})
            costs.save()
        measured[name] = round(known * 1000, 3)
    return RuntimeChoice(min(measured, key=measured.get), measured)


def _step_cost(model: LoadedModel) -> float:
    """Median seconds of a batch-1 Grad-CAM step, after two untimed ones."""
    engine = CamEngine(model)
    height, width = model.input_size
    images = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    times = []
    for index in range(AUTO_FRAMES + 2):
        start = time.perf_counter()
        engine(images)
        if index >= 2:
            times.append(time.perf_counter() - start)
    return float(np.median(times))
