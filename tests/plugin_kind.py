"""A model kind added as one module: a regressor, output ``[batch, 1]``, whose
map explains the predicted value and whose overlay gets a green frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import tensorflow as tf

from livecam.kinds import KindOptions, Objective

FRAME_BGR = (0, 255, 0)


@dataclass(frozen=True)
class RegressionScores(Objective):
    kind: ClassVar[str] = "regression"
    explains: ClassVar[str] = "regressors [batch, 1]"
    priority: ClassVar[int] = 70

    @classmethod
    def recognise(cls, output_shape, normalisation, options: KindOptions):
        return cls() if len(output_shape) == 2 and output_shape[-1] == 1 else None

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        return outputs  # the value itself is what is shown

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        return outputs

    def class_names(self) -> list[str]:
        return ["brightness"]

    @staticmethod
    def value_text(probability: float) -> str:
        return f"= {probability:.3f}"

    @staticmethod
    def decorate(overlay: np.ndarray, mask: np.ndarray | None) -> None:
        overlay[0, :] = overlay[-1, :] = overlay[:, 0] = overlay[:, -1] = FRAME_BGR
