"""The high-level API: predictions and heatmaps for frames, in one call.

Example:
    >>> from livecam import Explainer
    >>> explainer = Explainer("lite0", targets=top(3))
    >>> result = explainer.explain_one(cv2.imread("squirrel.jpg"))
    >>> result.predictions[0].label
    'fox squirrel, eastern fox squirrel, Sciurus niger'
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from livecam.cam import METHODS, CamEngine, CamOutput
from livecam.cam.targets import Target, encode, top
from livecam.errors import TargetError
from livecam.frames import model_input
from livecam.kinds import kind_named
from livecam.models import LoadedModel, load_model
from livecam.models.labels import short_label
from livecam.render import HeatmapRenderer
from livecam.views import explanation_html, explanation_png

TOP_PREDICTIONS = 5
THRESHOLD_LABELS = 16  # the labels a threshold considers unless targets are given


def default_targets(model: LoadedModel, threshold: float | None = None) -> list[Target]:
    """The top-1 class; with a threshold, the labels that may reach it."""
    return top(min(THRESHOLD_LABELS, model.num_classes) if threshold else 1)


def check_threshold(threshold: float | None) -> float | None:
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise TargetError(f"threshold must be between 0 and 1 (exclusive), got {threshold}")
    return threshold


@dataclass(frozen=True)
class MethodOptions:
    """How the engine runs a method (see :class:`~livecam.cam.CamEngine`).

    Attributes:
        eigen_smooth: First principal component of the weighted activations
            instead of their sum.
        aug_smooth: Average the maps of flipped and intensity-scaled copies.
        max_channels: Score-CAM scores only this many channels.
    """

    eigen_smooth: bool = False
    aug_smooth: bool = False
    max_channels: int | None = None

    def for_method(self, method: str) -> MethodOptions:
        """These options as ``method`` takes them: ``max_channels`` is Score-CAM's
        alone (so cycling or comparing methods keeps it for Score-CAM)."""
        takes_channels = hasattr(METHODS.get(method.lower()), "max_channels")
        return self if takes_channels else replace(self, max_channels=None)


def value_text(probability: float, kind: str) -> str:
    """A class's value as its kind shows it (:meth:`livecam.kinds.Objective.value_text`):
    ``91.2%``; a multi-label model's independent ``91.2% (independent)``; a
    segment's ``12.0% of the frame``; a similarity's cosine ``+0.83``."""
    return kind_named(kind).value_text(probability)


def compose_overlay(
    renderer: HeatmapRenderer,
    image: np.ndarray,
    colored: np.ndarray,
    caption: str | None,
    target: TargetMap,
) -> np.ndarray:
    """The one overlay of images, videos, live, serve and the training callback:
    the coloured map (of the image's size) blended in, the caption, and what
    the target's kind adds (a segmentation mask's outline)."""
    overlay = renderer.blend(image, colored, caption)
    kind_named(target.kind).decorate(overlay, target.mask)
    return overlay


@dataclass
class Prediction:
    """One class of the prediction; ``kind`` as in :attr:`LoadedModel.kind`
    (for a segmentation model the probability is the class's share of the frame)."""

    index: int
    label: str
    probability: float
    kind: str = "class"

    @property
    def name(self) -> str:
        """The label's first synonym, for display."""
        return short_label(self.label)

    @property
    def value_text(self) -> str:
        return value_text(self.probability, self.kind)


@dataclass
class TargetMap:
    """One heatmap: the class it explains and the map at CAM-layer resolution.

    Attributes:
        mask: Segmentation models: the pixels predicted as the class (uint8,
            at the model's output resolution), else None.
        below_threshold: With a threshold, no label reached it: this is the
            top label, its heatmap left empty.
    """

    index: int
    label: str
    probability: float
    heatmap: np.ndarray
    kind: str = "class"
    mask: np.ndarray | None = None
    below_threshold: bool = False

    @property
    def name(self) -> str:
        return short_label(self.label)

    @property
    def value_text(self) -> str:
        return value_text(self.probability, self.kind)


@dataclass
class Explanation:
    """Everything computed for one frame.

    In Jupyter it displays itself: the overlay of each target and the top
    predictions (when it holds its ``image``, as from :meth:`Explainer.explain`).

    Attributes:
        image: The BGR frame explained, if known.
    """

    predictions: list[Prediction]
    targets: list[TargetMap] = field(default_factory=list)
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def overlays(self, renderer: HeatmapRenderer | None = None) -> list[np.ndarray]:
        """One overlay per target (BGR): the heatmap blended into the image,
        the caption, and a segmentation mask's outline.

        Raises:
            ValueError: The explanation holds no image.
        """
        if self.image is None:
            raise ValueError("this explanation holds no image: pass it to Explainer.explain")
        renderer = renderer or HeatmapRenderer()
        height, width = self.image.shape[:2]
        return [
            compose_overlay(
                renderer,
                self.image,
                renderer.colorize(target.heatmap, width, height),
                self.caption(target),
                target,
            )
            for target in self.targets
        ]

    def _repr_png_(self) -> bytes | None:
        return explanation_png(self)

    def _repr_html_(self) -> str | None:
        return explanation_html(self)

    def caption(self, target: TargetMap) -> str:
        """``"fox squirrel 68.6%"``; when the explained class is not the top-1
        prediction, the top-1 too: ``"monarch 0.0% | top: modem 47%"``."""
        if target.below_threshold:
            return f"no label above the threshold | top: {target.name} {target.value_text}"
        text = f"{target.name} {target.value_text}"
        best = self.predictions[0] if self.predictions else None
        if best is not None and best.index != target.index:
            text += f" | top: {best.name} {best.probability:.0%}"
        return text


class Explainer:
    """A model, a CAM method and targets, ready to explain BGR frames.

    Args:
        model: A :class:`LoadedModel` or a spec for :func:`load_model`.
        method: A name of :data:`livecam.cam.METHODS` (``gradcam``, ``scorecam``, ...).
        targets: What to explain; default the top-1 class.
        score: ``logit`` or ``probability``.
        method_options: Smoothing and Score-CAM options of the engine.
        top_predictions: How many predictions to report per frame.
        threshold: Multi-label: explain every label whose probability
            reaches this (among the targets, by default the
            :data:`THRESHOLD_LABELS` most likely).
        **load_options: Passed to :func:`load_model` when ``model`` is a spec.
    """

    def __init__(
        self,
        model: LoadedModel | str = "lite0",
        method: str = "gradcam",
        targets: Sequence[Target] | None = None,
        score: str = "logit",
        top_predictions: int = TOP_PREDICTIONS,
        method_options: MethodOptions | None = None,
        threshold: float | None = None,
        **load_options,
    ) -> None:
        self.model = model if isinstance(model, LoadedModel) else load_model(model, **load_options)
        self.method_options = method_options or MethodOptions()
        self.engine = CamEngine(self.model, method, score, **asdict(self.method_options))
        self.threshold = check_threshold(threshold)
        self.targets = list(targets or default_targets(self.model, threshold))
        encode(self.targets, self.model.num_classes)  # fail early on a bad target
        self.top_predictions = min(top_predictions, self.model.num_classes)

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    def with_targets(self, targets: Sequence[Target]) -> Explainer:
        """The same model and compiled step (no copy, no new trace for the same
        number of targets), explaining ``targets``."""
        encode(list(targets), self.model.num_classes)
        twin = copy.copy(self)
        twin.targets = list(targets)
        return twin

    def explain(self, frames: Sequence[np.ndarray]) -> list[Explanation]:
        """Explain a batch of BGR frames (any sizes) in one compiled call; each
        explanation holds its frame."""
        batch = model_input(frames, self.model.input_size)
        explained = self.explain_batch(batch)
        for explanation, frame in zip(explained, frames, strict=True):
            explanation.image = frame
        return explained

    def warm_up(self) -> float:
        """Trace and run the compiled step once on a blank frame; returns seconds taken."""
        start = time.perf_counter()
        height, width = self.model.input_size
        self.explain_batch(np.zeros((1, height, width, 3), np.uint8))
        return time.perf_counter() - start

    def explain_one(self, frame: np.ndarray) -> Explanation:
        return self.explain([frame])[0]

    def explain_batch(self, batch_rgb: np.ndarray) -> list[Explanation]:
        """Explain an RGB uint8 batch already at the model's input size."""
        return self.to_explanations(self.engine(batch_rgb, self.targets))

    def to_explanations(self, output: CamOutput) -> list[Explanation]:
        results = []
        kind, masks_of = self.model.kind, output.masks
        for row, (maps, probabilities, class_ids) in enumerate(
            zip(output.maps, output.probabilities, output.class_ids, strict=True)
        ):
            ranked = np.argsort(-probabilities, kind="stable")[: self.top_predictions]
            predictions = [self._prediction(int(i), probabilities) for i in ranked]
            masks = masks_of[row] if masks_of is not None else [None] * len(class_ids)
            targets = [
                TargetMap(int(c), self.labels[c], float(probabilities[c]), heatmap, kind, mask)
                for c, heatmap, mask in zip(class_ids, maps, masks, strict=True)
            ]
            results.append(Explanation(predictions, self._above_threshold(targets)))
        return results

    def _above_threshold(self, targets: list[TargetMap]) -> list[TargetMap]:
        """With a threshold, the targets that reach it, or the first one, marked
        and with an empty heatmap, when none does."""
        if self.threshold is None:
            return targets
        kept = [target for target in targets if target.probability >= self.threshold]
        if kept:
            return kept
        first = targets[0]
        return [replace(first, heatmap=np.zeros_like(first.heatmap), below_threshold=True)]

    def _prediction(self, index: int, probabilities: np.ndarray) -> Prediction:
        kind = self.model.kind
        return Prediction(index, self.labels[index], float(probabilities[index]), kind)
