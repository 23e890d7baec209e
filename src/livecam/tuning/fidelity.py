"""The fidelity gate: a faster precision is used only where its maps stay true.

A precision (bfloat16, int8) on a runtime is admitted for a model and a method
when, on the bundled labelled photos (``samples/eval``, 21 objects of ImageNet
classes), its maps correlate with TensorFlow float32's at least
:data:`MIN_CORRELATION` on average and point at the labelled objects no more
than :data:`MAX_POINTING_DROP` less often. A model without those classes is
judged on its top class's maps, by correlation alone. The verdicts persist in
the cache directory, per machine (the CPU's instructions change the numbers),
model, weights, method, runtime, precision, size and library versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from livecam.cache import JsonStore, cache_root

MIN_CORRELATION = 0.98
MAX_POINTING_DROP = 0.03
CACHE_VERSION = 1


@dataclass(frozen=True)
class Fidelity:
    """How a precision's maps compare with TensorFlow float32's.

    Attributes:
        correlation: Pearson correlation of the maps, mean over every map.
        worst_correlation: The lowest of them.
        pointing: Share of the labelled objects its maps' peak lands on (None:
            the model has none of the eval set's classes).
        reference_pointing: The same for TensorFlow float32.
        maps: How many maps were compared.
    """

    method: str
    runtime: str
    precision: str
    correlation: float
    worst_correlation: float
    pointing: float | None
    reference_pointing: float | None
    maps: int

    @property
    def reason(self) -> str:
        """Why the precision is refused; empty where it is admitted."""
        if not self.correlation >= MIN_CORRELATION:  # NaN (a flat map) fails too
            return f"map correlation {self.correlation:.3f} < {MIN_CORRELATION}"
        if self.pointing_drop > MAX_POINTING_DROP + 1e-9:
            return (
                f"pointing {self.pointing:.3f} against {self.reference_pointing:.3f} in "
                f"float32 (more than {MAX_POINTING_DROP} lower)"
            )
        return ""

    @property
    def pointing_drop(self) -> float:
        """How much less often than float32 the maps point at the objects (0 unknown)."""
        if self.pointing is None or self.reference_pointing is None:
            return 0.0
        return self.reference_pointing - self.pointing

    @property
    def admitted(self) -> bool:
        return not self.reason

    def to_json(self) -> dict:
        return {**asdict(self), "admitted": self.admitted, "reason": self.reason}

    def describe(self) -> str:
        pointing = "" if self.pointing is None else f", pointing {self.pointing:.3f}"
        verdict = "admitted" if self.admitted else f"refused: {self.reason}"
        return f"{verdict} (correlation {self.correlation:.3f}{pointing})"


def check(
    model,
    method: str,
    precision: str,
    runtime: str | None = None,
    announce: Callable[[str], None] | None = None,
) -> Fidelity:
    """The verdict on ``precision`` for ``model`` and ``method``, measured once
    per machine and kept in the cache directory; ``announce`` is told, in one
    line, before a measurement (seconds: every labelled photo, twice)."""
    runtime = runtime or model.runtime
    key = _cache_key(model, method, precision, runtime)
    store = _store()
    entries = store.read()
    if key in entries:
        try:
            return Fidelity(**entries[key])
        except TypeError:
            pass  # an entry of another shape: measure again
    if announce is not None:
        announce(
            f"checking {precision} on {runtime} for {method}: its maps against float32's on "
            f"the bundled labelled photos (once on this machine)"
        )
    verdict = measure(model, method, precision, runtime)
    store.update({key: asdict(verdict)})  # a store that cannot be written: a slower next start
    return verdict


def measure(
    model, method: str, precision: str, runtime: str | None = None, eval_dir: Path | None = None
) -> Fidelity:
    """Compare ``precision`` on ``runtime`` with TensorFlow float32 on the eval set."""
    from livecam.cam import CamEngine, ClassTarget, top
    from livecam.evaluate.annotations import load_annotations, map_categories
    from livecam.evaluate.metrics import pointing_hit
    from livecam.evaluate.runner import annotated_targets
    from livecam.frames import as_bgr8, prepare, read_image
    from livecam.samples import sample_dir

    runtime = runtime or model.runtime
    folder = eval_dir or sample_dir() / "eval"
    dataset = load_annotations(folder / "instances.json", folder)
    mapping, _ = map_categories(dataset.categories, model.labels, None)
    reference = CamEngine(replace(model.variant(precision="float32"), runtime="tensorflow"), method)
    candidate = CamEngine(replace(model.variant(precision=precision), runtime=runtime), method)
    correlations: list[float] = []
    hits = {"reference": 0, "candidate": 0}
    objects = 0
    for labelled in dataset.images:
        image = as_bgr8(read_image(labelled.path))
        height, width = image.shape[:2]
        targets = annotated_targets(labelled.boxes, mapping, width, height, [], labelled.path)
        wanted = [ClassTarget(t.index) for t in targets] or top(1)
        model_image = prepare(image, model.input_size)[None]
        expected = reference(model_image, wanted).maps[0]
        got = candidate(model_image, wanted).maps[0]
        correlations += [_correlation(a, b) for a, b in zip(got, expected, strict=True)]
        for target, ours, theirs in zip(targets, got, expected, strict=False):
            objects += 1
            hits["candidate"] += pointing_hit(ours, target.boxes, width, height)
            hits["reference"] += pointing_hit(theirs, target.boxes, width, height)
    return Fidelity(
        method=method,
        runtime=runtime,
        precision=precision,
        correlation=float(np.mean(correlations)),
        worst_correlation=float(np.min(correlations)),
        pointing=hits["candidate"] / objects if objects else None,
        reference_pointing=hits["reference"] / objects if objects else None,
        maps=len(correlations),
    )


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:  # a flat map: alike only if both are the same
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def _store() -> JsonStore:
    return JsonStore(cache_root() / "fidelity.json", CACHE_VERSION, "verdicts")


def _cache_key(model, method: str, precision: str, runtime: str) -> str:
    import tensorflow as tf

    from livecam.runtime import model_digest, runtime_version
    from livecam.tuning.governor import machine_id

    parts = (
        machine_id(),
        model.name,
        model_digest(model),
        ",".join(model.cam_layers),
        str(model.input_size),
        method,
        runtime,
        precision,
        f"tensorflow {tf.__version__}",
        runtime_version(runtime),
    )
    if precision == "int8":  # another calibration is another quantization
        from livecam.runtime.openvino import calibration_digest

        parts += (f"calibration {calibration_digest(model)}",)
    return "|".join(parts)
