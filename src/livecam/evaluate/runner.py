"""``livecam eval``: score CAM methods on labelled images, against the centre
and random baselines every published table reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from livecam.cam import CamEngine, ClassTarget
from livecam.evaluate import metrics, sanity
from livecam.evaluate.annotations import Box, Dataset, map_categories
from livecam.explain import MethodOptions
from livecam.frames import as_bgr8, prepare, read_image
from livecam.models import LoadedModel

METRICS = ("pointing", "energy", "deletion", "insertion", "road", "drop", "increase", "sanity")
BASELINES = ("centre", "random")
CHUNK = 32  # perturbed images per model call
EXAMPLES = 6  # targets whose maps by every method the report shows
# (key, title, format) of the scores table, printed and in the report
SCORE_COLUMNS = (
    ("pointing", "pointing", ".3f"),
    ("deletion_auc", "deletion", ".4f"),
    ("insertion_auc", "insertion", ".4f"),
    ("road", "ROAD", ".4f"),
    ("energy", "energy", ".3f"),
    ("drop", "drop %", ".1f"),
    ("increase", "incr. %", ".1f"),
    ("sanity", "sanity", ".2f"),
    ("ms_per_image", "ms/image", ".1f"),
)
ProgressCallback = Callable[[int, int], None]


class ClassProbabilities:
    """The model's class probabilities for RGB uint8 batches at its input size,
    as one compiled function (traced once)."""

    def __init__(self, model: LoadedModel) -> None:
        import tensorflow as tf

        self.model = model
        height, width = model.input_size
        signature = [tf.TensorSpec([None, height, width, 3], tf.uint8)]
        self._step = tf.function(self._compute, input_signature=signature)

    def _compute(self, images):
        import tensorflow as tf

        inputs = self.model.preprocess(tf.cast(images, tf.float32))
        outputs = tf.cast(self.model.model(inputs), tf.float32)
        return self.model.objective.probabilities(outputs)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [self._step(images[i : i + CHUNK]).numpy() for i in range(0, len(images), CHUNK)]
        )


@dataclass
class Tally:
    """The scores of one method (or baseline) over the images."""

    hits: dict[str, list[int]] = field(default_factory=dict)  # class -> [hits, total]
    deletion: list[np.ndarray] = field(default_factory=list)  # curves, one per target
    insertion: list[np.ndarray] = field(default_factory=list)
    road_morf: list[np.ndarray] = field(default_factory=list)  # per percentile
    road_lerf: list[np.ndarray] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)  # share of the map in the boxes
    # per target, per randomised copy: the map's likeness to the trained model's
    sanity_spearman: list[list[float]] = field(default_factory=list)
    sanity_ssim: list[list[float]] = field(default_factory=list)
    drops: list[float] = field(default_factory=list)
    increases: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        per_class = {name: hit / total for name, (hit, total) in sorted(self.hits.items())}
        hits = sum(hit for hit, _ in self.hits.values())
        total = sum(total for _, total in self.hits.values())

        def mean(values: list[float]) -> float | None:
            return round(float(np.mean(values)), 4) if values else None

        def mean_curve(curves: list[np.ndarray]) -> list[float] | None:
            return [round(float(v), 4) for v in np.mean(curves, axis=0)] if curves else None

        road = [
            (lerf - morf) / 2.0 for morf, lerf in zip(self.road_morf, self.road_lerf, strict=True)
        ]
        return {
            "pointing": round(hits / total, 4) if total else None,
            "pointing_mean_over_classes": mean(list(per_class.values())),
            "pointing_per_class": {k: round(v, 4) for k, v in per_class.items()},
            "deletion_auc": mean([metrics.area_under(c) for c in self.deletion]),
            "insertion_auc": mean([metrics.area_under(c) for c in self.insertion]),
            "road": mean([float(np.mean(r)) for r in road]),
            "energy": mean(self.energy),
            "drop": round(100 * float(np.mean(self.drops)), 2) if self.drops else None,
            "increase": round(100 * float(np.mean(self.increases)), 2) if self.increases else None,
            "ms_per_image": round(float(np.mean(self.seconds)) * 1000, 1) if self.seconds else None,
            "deletion_curve": mean_curve(self.deletion),
            "insertion_curve": mean_curve(self.insertion),
            "road_morf": mean_curve(self.road_morf),
            "road_lerf": mean_curve(self.road_lerf),
            # the rank correlation with the maps once the top layer is random
            "sanity": mean([steps[0] for steps in self.sanity_spearman]),
            "sanity_spearman": mean_curve(self.sanity_spearman),
            "sanity_ssim": mean_curve(self.sanity_ssim),
        }


@dataclass
class Example:
    """One explained target of the run, for the report's grid of maps."""

    path: Path
    category: str
    boxes: list[Box]
    maps: dict[str, np.ndarray]  # method -> heatmap


@dataclass
class EvalReport:
    """What ``livecam eval`` prints: per method and baseline, every metric;
    and, for ``--report``, the first few targets' maps by every method."""

    images: int
    classes: dict[str, int]
    methods: dict[str, dict]
    baselines: dict[str, dict]
    flagged: list[str]
    problems: list[str]
    sanity_layers: list[list[str]] = field(default_factory=list)  # randomised, per step
    examples: list[Example] = field(default_factory=list)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "examples"}


@dataclass
class _Target:
    category: str
    index: int
    boxes: list[Box]


def annotated_targets(image_boxes, mapping, width, height, problems, path) -> list[_Target]:
    """The image's annotated classes the model has, each with its boxes clipped to the image."""
    found = []
    for category, boxes in image_boxes.items():
        if category not in mapping:
            continue
        inside = []
        for box in boxes:
            clipped = box.clipped(width, height)
            if clipped is None:
                problems.append(f"{path}: a {category!r} box lies outside the image; skipped")
            elif clipped != box:
                problems.append(f"{path}: a {category!r} box reaches outside the image; clipped")
            if clipped is not None:
                inside.append(clipped)
        if inside:
            found.append(_Target(category, mapping[category], inside))
    return found


def _timed_maps(engine: CamEngine, model_image: np.ndarray, wanted, tally: Tally) -> np.ndarray:
    """The maps of one image, one per target; their time goes to the tally
    (except a first call's, which pays for tracing)."""
    traces, started = engine.trace_count, time.perf_counter()
    maps = engine(model_image[None], wanted).maps[0]
    if engine.trace_count == traces:
        tally.seconds.append(time.perf_counter() - started)
    return maps


def _score(tally, heatmap, target, size, model_image, chosen, probabilities, seed) -> None:
    width, height = size
    if "pointing" in chosen:
        record = tally.hits.setdefault(target.category, [0, 0])
        record[0] += metrics.pointing_hit(heatmap, target.boxes, width, height)
        record[1] += 1
    if "deletion" in chosen or "insertion" in chosen:
        deletion, insertion = metrics.deletion_insertion_curves(
            model_image, heatmap, target.index, probabilities
        )
        if "deletion" in chosen:
            tally.deletion.append(deletion)
        if "insertion" in chosen:
            tally.insertion.append(insertion)
    if "energy" in chosen:
        tally.energy.append(metrics.energy_in_boxes(heatmap, target.boxes, width, height))
    if "drop" in chosen or "increase" in chosen:
        drop, increase = metrics.drop_and_increase(
            model_image, heatmap, target.index, probabilities
        )
        tally.drops.append(drop)
        tally.increases.append(increase)
    if "road" in chosen:
        morf, lerf = metrics.road_curves(model_image, heatmap, target.index, probabilities, seed)
        tally.road_morf.append(morf)
        tally.road_lerf.append(lerf)


def evaluate(
    dataset: Dataset,
    model: LoadedModel,
    methods: Sequence[str],
    chosen_metrics: Sequence[str] = METRICS,
    class_map: dict[str, int | str] | None = None,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    method_options: MethodOptions | None = None,
    seed: int = 0,
) -> EvalReport:
    """Score each method on each annotated class of each image (the map of that
    class, not of the top-1), and the baselines likewise.

    Raises:
        MethodError: A method cannot run on this model.
    """
    options = method_options or MethodOptions()
    engines = {name: CamEngine(model, name, **asdict(options.for_method(name))) for name in methods}
    copies = sanity.randomised_copies(model) if "sanity" in chosen_metrics else []
    randomised = {
        name: [CamEngine(copy, name, **asdict(options.for_method(name))) for _, copy in copies]
        for name in methods
    }
    probabilities = ClassProbabilities(model)
    mapping, problems = map_categories(dataset.categories, model.labels, class_map)
    problems = [*dataset.problems, *problems]
    tallies = {name: Tally() for name in (*methods, *BASELINES)}
    classes: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    examples: list[Example] = []
    images = dataset.images[:limit]
    for done, labelled in enumerate(images, start=1):
        image = as_bgr8(read_image(labelled.path))
        height, width = image.shape[:2]
        targets = annotated_targets(labelled.boxes, mapping, width, height, problems, labelled.path)
        if targets:
            for target in targets:
                classes[target.category] = classes.get(target.category, 0) + 1
            model_image = prepare(image, model.input_size)
            wanted = [ClassTarget(target.index) for target in targets]
            maps = {
                name: _timed_maps(engine, model_image, wanted, tallies[name])
                for name, engine in engines.items()
            }
            for name, heatmaps in maps.items():
                _check_sanity(tallies[name], heatmaps, randomised[name], model_image, wanted)
            for k, target in enumerate(targets[: EXAMPLES - len(examples)]):
                chosen_maps = {name: heatmaps[k] for name, heatmaps in maps.items()}
                examples.append(Example(labelled.path, target.category, target.boxes, chosen_maps))
            grid = next(iter(maps.values())).shape[1:]
            maps["centre"] = [metrics.centre_map(grid)] * len(targets)
            maps["random"] = [metrics.random_map(grid, rng) for _ in targets]
            for name, heatmaps in maps.items():
                for target, heatmap in zip(targets, heatmaps, strict=True):
                    scored = (heatmap, target, (width, height), model_image)
                    _score(tallies[name], *scored, chosen_metrics, probabilities, seed)
        if progress is not None:
            progress(done, len(images))
    results = {name: tallies[name].summary() for name in methods}
    baselines = {name: tallies[name].summary() for name in BASELINES}
    for summary in baselines.values():
        summary["ms_per_image"] = None
    layers = [names for names, _ in copies]
    flags = _flags(results, baselines) + _sanity_flags(results, layers)
    return EvalReport(len(images), classes, results, baselines, flags, problems, layers, examples)


def _check_sanity(tally, heatmaps, randomised: list[CamEngine], model_image, wanted) -> None:
    """Each target's map against the maps of the randomised copies."""
    if not randomised:
        return
    others = [engine(model_image[None], wanted).maps[0] for engine in randomised]
    for k, heatmap in enumerate(heatmaps):
        tally.sanity_spearman.append([sanity.spearman(heatmap, o[k]) for o in others])
        tally.sanity_ssim.append([sanity.ssim(heatmap, o[k]) for o in others])


def _sanity_flags(results: dict, layers: list[list[str]]) -> list[str]:
    """Methods whose maps stay alike once the top layer is random."""
    flags = []
    for name, scores in results.items():
        likeness = scores.get("sanity_spearman")
        if likeness and likeness[0] >= sanity.FLAG_SPEARMAN:
            flags.append(
                f"{name}: its maps stay alike (Spearman {likeness[0]:.2f}) once {layers[0][0]} "
                "is random: they do not follow the model's decision"
            )
    return flags


def _flags(results: dict, baselines: dict) -> list[str]:
    """Methods that do worse than a baseline on a metric (a tie is not flagged)."""
    better = {
        "pointing": max,
        "energy": max,
        "insertion_auc": max,
        "road": max,
        "deletion_auc": min,
        "drop": min,
        "increase": max,
    }
    flags = []
    for name, scores in results.items():
        for metric, best in better.items():
            value = scores[metric]
            for baseline, reference in baselines.items():
                base = reference[metric]
                if value is None or base is None:
                    continue
                if best(value, base) == base and value != base:
                    flags.append(
                        f"{name}: {metric} {value:.3f} is worse than the "
                        f"{baseline} baseline ({base:.3f})"
                    )
    return flags
