"""A softmax classifier, output ``[batch, classes]``: one class per image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import tensorflow as tf

from livecam.kinds.base import KindOptions, Objective, register_kind


@register_kind
@dataclass(frozen=True)
class ClassScores(Objective):
    """A softmax classifier: one class per image."""

    kind: ClassVar[str] = "class"
    runs_on_dense_head: ClassVar[bool] = True
    explains: ClassVar[str] = "classifiers [batch, classes]"
    priority: ClassVar[int] = 90

    @classmethod
    def recognise(cls, output_shape, normalisation, options: KindOptions):
        return cls() if len(output_shape) == 2 else None

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(outputs)

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        return self.probabilities(outputs) if score == "probability" else outputs
