"""The high-level API: predictions and heatmaps for frames, in one call.

Example:
    >>> from livecam import Explainer
    >>> explainer = Explainer("lite0", targets=top(3))
    >>> result = explainer.explain_one(cv2.imread("squirrel.jpg"))
    >>> result.predictions[0].label
    'fox squirrel, eastern fox squirrel, Sciurus niger'
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from livecam.cam import METHODS, CamEngine, CamOutput
from livecam.cam.targets import Target, encode, top
from livecam.frames import model_input
from livecam.models import LoadedModel, load_model
from livecam.models.labels import short_label

TOP_PREDICTIONS = 5


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


@dataclass
class Prediction:
    index: int
    label: str
    probability: float

    @property
    def name(self) -> str:
        """The label's first synonym, for display."""
        return short_label(self.label)


@dataclass
class TargetMap:
    """One heatmap: the class it explains and the map at CAM-layer resolution."""

    index: int
    label: str
    probability: float
    heatmap: np.ndarray

    @property
    def name(self) -> str:
        return short_label(self.label)


@dataclass
class Explanation:
    """Everything computed for one frame."""

    predictions: list[Prediction]
    targets: list[TargetMap] = field(default_factory=list)

    def caption(self, target: TargetMap) -> str:
        """``"fox squirrel 68.6%"``; when the explained class is not the top-1
        prediction, the top-1 too: ``"monarch 0.0% | top: modem 47%"``."""
        text = f"{target.name} {target.probability:.1%}"
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
        **load_options,
    ) -> None:
        self.model = model if isinstance(model, LoadedModel) else load_model(model, **load_options)
        self.method_options = method_options or MethodOptions()
        self.engine = CamEngine(self.model, method, score, **asdict(self.method_options))
        self.targets = list(targets or top(1))
        encode(self.targets, self.model.num_classes)  # fail early on a bad target
        self.top_predictions = min(top_predictions, self.model.num_classes)

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    def explain(self, frames: Sequence[np.ndarray]) -> list[Explanation]:
        """Explain a batch of BGR frames (any sizes) in one compiled call."""
        batch = model_input(frames, self.model.input_size)
        return self.explain_batch(batch)

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
        for maps, probabilities, class_ids in zip(
            output.maps, output.probabilities, output.class_ids, strict=True
        ):
            ranked = np.argsort(-probabilities, kind="stable")[: self.top_predictions]
            predictions = [self._prediction(int(i), probabilities) for i in ranked]
            targets = [
                TargetMap(int(c), self.labels[c], float(probabilities[c]), heatmap)
                for c, heatmap in zip(class_ids, maps, strict=True)
            ]
            results.append(Explanation(predictions, targets))
        return results

    def _prediction(self, index: int, probabilities: np.ndarray) -> Prediction:
        return Prediction(index, self.labels[index], float(probabilities[index]))
