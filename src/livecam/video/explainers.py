"""The explainers of the live loop, per quality level and method, built on
first use and bounded (what the CAM thread and the level builder share)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from livecam import runtime as runtimes
from livecam.cam.targets import Target
from livecam.explain import Explainer, MethodOptions, default_targets
from livecam.models import LoadedModel
from livecam.tuning.governor import QualityLevel

MAX_LEVELS = 3  # model variants kept: the level in use, the one being built, the last one
MAX_ENGINES = 6  # compiled steps kept (level x method)


class ExplainerCache:
    """The explainers of the live loop, built on first use and bounded: at most
    :data:`MAX_LEVELS` model variants (one per quality level: the weights at
    that size and precision) and :data:`MAX_ENGINES` compiled steps (one per
    level and method), least recently used first out. A class picked live
    shares its level's step: changing classes builds nothing. Safe to use from
    the CAM thread and the builder thread at once."""

    def __init__(
        self,
        model: LoadedModel,
        method: str,
        targets: list[Target] | None,
        score: str,
        method_options: MethodOptions | None = None,
        threshold: float | None = None,
    ) -> None:
        self.model = model
        self.method = method
        self.targets = list(targets or default_targets(model, threshold))
        self.score = score
        self.method_options = method_options
        self.threshold = threshold
        self._variants: OrderedDict[QualityLevel, LoadedModel] = OrderedDict()
        self._engines: OrderedDict[tuple[QualityLevel, str], Explainer] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        level: QualityLevel,
        method: str | None = None,
        targets: list[Target] | None = None,
    ) -> Explainer:
        """The explainer of ``level`` and ``method`` (default: the cache's),
        for ``targets`` (default: the cache's)."""
        method = method or self.method
        key = (level, method)
        with self._lock:
            explainer = self._engines.get(key)
            if explainer is not None:
                self._engines.move_to_end(key)
                self._variants.move_to_end(level)
        if explainer is None:
            explainer = self._build(level, method)
        wanted = list(targets or self.targets)
        return explainer if wanted == explainer.targets else explainer.with_targets(wanted)

    def ready(self, level: QualityLevel, method: str, targets: list[Target] | None = None) -> bool:
        """Whether ``level`` and ``method`` are built and traced for as many targets."""
        with self._lock:
            explainer = self._engines.get((level, method))
        return explainer is not None and explainer.engine.traced(len(targets or self.targets))

    def profile(self, method: str, num_targets: int) -> str:
        """Everything besides the level that changes a step's cost, as a key
        for measured costs: model, layer, method and its options, targets, score."""
        options = self._options(method)
        return (
            f"{self.model.name}|{','.join(self.model.cam_layers)}|{method}"
            f"|eigen={options.eigen_smooth}"
            f"|aug={options.aug_smooth}|channels={options.max_channels}"
            f"|targets={num_targets}|{self.score}"
            + ("" if runtimes.is_reference(self.model.runtime) else f"|{self.model.runtime}")
        )

    @property
    def sizes(self) -> tuple[int, int]:
        """How many model variants and compiled steps are kept."""
        with self._lock:
            return len(self._variants), len(self._engines)

    def _build(self, level: QualityLevel, method: str) -> Explainer:
        with self._lock:
            variant = self._variants.get(level)
        if variant is None:
            variant = self.model.variant(level.input_size, level.precision)  # slow: unlocked
        explainer = Explainer(
            variant,
            method,
            list(self.targets),
            self.score,
            method_options=self._options(method),
            threshold=self.threshold,
        )
        with self._lock:
            variant = self._variants.setdefault(level, variant)
            self._variants.move_to_end(level)
            explainer = self._engines.setdefault((level, method), explainer)
            self._engines.move_to_end((level, method))
            self._evict()
        return explainer

    def _options(self, method: str) -> MethodOptions:
        return (self.method_options or MethodOptions()).for_method(method)

    def _evict(self) -> None:
        while len(self._variants) > MAX_LEVELS:
            level, _ = self._variants.popitem(last=False)
            for key in [key for key in self._engines if key[0] == level]:
                del self._engines[key]
        while len(self._engines) > MAX_ENGINES:
            self._engines.popitem(last=False)
