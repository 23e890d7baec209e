"""A segmentation model, output ``[batch, H, W, classes]``: a map explains a
class over its predicted mask, or over ``--region`` (pytorch-grad-cam's
``SemanticSegmentationTarget``), and the overlay outlines the mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import tensorflow as tf

from livecam.errors import TargetError
from livecam.kinds.base import KindOptions, Objective, Region, register_kind
from livecam.render import draw_outline


def parse_region(text: str) -> Region:
    """``"x0,y0,x1,y1"`` as fractions of the frame's width and height.

    Raises:
        TargetError: Not four numbers with ``0 <= x0 < x1 <= 1`` and ``0 <= y0 < y1 <= 1``.
    """
    try:
        x0, y0, x1, y1 = (float(part) for part in text.split(","))
    except ValueError:
        raise TargetError(
            f"region must be x0,y0,x1,y1 (fractions of the frame, e.g. 0.25,0.25,0.75,0.75), "
            f"got {text!r}"
        ) from None
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise TargetError(
            f"region {text!r} must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 "
            f"(fractions of the frame's width and height)"
        )
    return (x0, y0, x1, y1)


@register_kind
@dataclass(frozen=True)
class SegmentScores(Objective):
    """A segmentation model, output ``[batch, H, W, classes]``.

    A class's score is the sum of its logits (or probabilities) over the
    pixels predicted as that class, or over ``region``. A class's probability
    is its mean over the pixels: the share of the image it is expected to
    cover, so the top class is the one covering most of the frame.

    Attributes:
        sigmoid: Independent per-class masks (logit > 0) instead of the argmax.
        region: ``(x0, y0, x1, y1)`` fractions of the frame: sum there instead.
    """

    kind: ClassVar[str] = "segment"
    has_masks: ClassVar[bool] = True
    takes_region: ClassVar[bool] = True
    explains: ClassVar[str] = "segmentation models [batch, H, W, classes]"
    priority: ClassVar[int] = 50
    sigmoid: bool = False
    region: Region | None = None

    @classmethod
    def recognise(cls, output_shape, normalisation, options: KindOptions):
        if len(output_shape) != 4:
            return None
        return cls(sigmoid=normalisation == "sigmoid", region=options.region)

    @staticmethod
    def value_text(probability: float) -> str:
        return f"{probability:.1%} of the frame"

    @staticmethod
    def decorate(overlay: np.ndarray, mask: np.ndarray | None) -> None:
        if mask is not None:
            draw_outline(overlay, mask)

    def _per_pixel(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.nn.sigmoid(outputs) if self.sigmoid else tf.nn.softmax(outputs)

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(self._per_pixel(outputs), axis=(1, 2))

    def _predicted(self, outputs: tf.Tensor) -> tf.Tensor:
        """``[batch, H, W, classes]`` 0/1: the pixels predicted as each class."""
        if self.sigmoid:
            return tf.cast(outputs > 0.0, tf.float32)
        return tf.one_hot(tf.argmax(outputs, axis=-1), tf.shape(outputs)[-1])

    def _region(self, outputs: tf.Tensor) -> tf.Tensor:
        height, width = outputs.shape[1], outputs.shape[2]
        x0, y0, x1, y1 = self.region
        rows = np.zeros((height, width, 1), np.float32)
        top, bottom = int(y0 * height), max(int(y0 * height) + 1, round(y1 * height))
        left, right = int(x0 * width), max(int(x0 * width) + 1, round(x1 * width))
        rows[top:bottom, left:right] = 1.0
        return tf.constant(rows)[None]

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        values = self._per_pixel(outputs) if score == "probability" else outputs
        where = self._region(outputs) if self.region else self._predicted(outputs)
        return tf.reduce_sum(tf.stop_gradient(where) * values, axis=(1, 2))

    def masks(self, outputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        predicted = tf.transpose(self._predicted(outputs), [0, 3, 1, 2])  # [b, classes, H, W]
        return tf.cast(tf.gather(predicted, class_ids, batch_dims=1), tf.uint8)
