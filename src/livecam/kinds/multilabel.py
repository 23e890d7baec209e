"""A multi-label classifier (sigmoid head), output ``[batch, labels]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import tensorflow as tf

from livecam.kinds.base import KindOptions, register_kind
from livecam.kinds.classifier import ClassScores


@register_kind
@dataclass(frozen=True)
class LabelScores(ClassScores):
    """A multi-label classifier (sigmoid head): each label's probability is
    independent of the others', and each map explains one label's logit."""

    kind: ClassVar[str] = "label"
    independent: ClassVar[bool] = True
    explains: ClassVar[str] = ""  # said by the classifier's
    priority: ClassVar[int] = 80

    @classmethod
    def recognise(cls, output_shape, normalisation, options: KindOptions):
        return cls() if len(output_shape) == 2 and normalisation == "sigmoid" else None

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.nn.sigmoid(outputs)

    @staticmethod
    def value_text(probability: float) -> str:
        return f"{probability:.1%} (independent)"
