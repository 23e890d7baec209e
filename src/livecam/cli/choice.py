"""What the model options of a command chose: one :class:`~livecam.spec.ModelSpec`,
built once, and the targets."""

from __future__ import annotations

import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from livecam.errors import LivecamError
from livecam.spec import ModelSpec


@dataclass
class KindOptions:
    """The options for models other than single-label classifiers."""

    grid: str | None = None
    skip_tokens: int | None = None
    threshold: float | None = None
    region: str | None = None
    similar_to: Path | None = None

    def load_options(self) -> dict:
        from livecam.kinds import parse_region
        from livecam.models.layers import parse_grid

        return {
            "grid": parse_grid(self.grid) if self.grid else None,
            "skip_tokens": self.skip_tokens,
            "region": parse_region(self.region) if self.region else None,
            "similar_to": self.similar_to,
        }


@dataclass
class ModelChoice:
    """What the model options chose: the model spec, built once per command,
    and the targets; :meth:`load` turns it into a model and targets."""

    spec: ModelSpec
    top: int | None = None
    classes: list[str] | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.top is not None and self.classes:
            raise LivecamError("use either --top or --class, not both")
        if self.threshold is not None and self.classes:
            raise LivecamError("use either --threshold or --class, not both")
        from livecam.explain import check_threshold

        check_threshold(self.threshold)  # before the model loads

    @classmethod
    def of(cls, model: str, weights: str, layer: str | None, labels: Path | None,
           input_size: int | None, precision: str, top: int | None, classes: list[str] | None,
           kinds: KindOptions | None = None, runtime: str = "tensorflow",
           calibration: Path | None = None) -> ModelChoice:  # fmt: skip
        """From the model options every command shares."""
        kinds = kinds or KindOptions()
        spec = ModelSpec(model, weights, layer, labels, None, input_size, precision,
                         runtime=runtime, calibration=calibration,
                         **kinds.load_options())  # fmt: skip
        return cls(spec, top, classes, kinds.threshold)

    def load(self):
        """The loaded model and the targets (top-k ranks, named classes, or None
        for the explainer's default)."""
        from livecam.cam import chosen
        from livecam.loading import load_model

        with redirect_stdout(sys.stderr):  # Keras prints download progress; keep stdout clean
            bundle = load_model(self.spec)
        return bundle, chosen(bundle.labels, self.top, self.classes)

    def explainer(self, method: str, score: str, method_options=None):
        from livecam.explain import Explainer

        bundle, wanted = self.load()
        return Explainer(
            bundle,
            method=method,
            targets=wanted,
            score=score,
            method_options=method_options,
            threshold=self.threshold,
        )
