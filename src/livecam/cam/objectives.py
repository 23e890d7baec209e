"""What a map explains, by kind of model output (beside ``targets``, which
picks *which* class): a classifier's class, a multi-label model's label, a
segmentation model's class over its mask or a region, an embedding model's
similarity to a reference.

Each objective turns the model's raw output (logits: livecam strips the final
softmax or sigmoid) into per-class ``scores`` to differentiate and
``probabilities`` to rank and show, both ``[batch, classes]``, so every CAM
method works the same on every kind. The segmentation target follows
pytorch-grad-cam's ``SemanticSegmentationTarget``; the similarity target its
``SimilarityToConceptTarget``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import tensorflow as tf

from livecam.errors import TargetError


class Objective:
    """The explained score and the shown probabilities of a model's output.

    Attributes:
        kind: ``class``, ``label``, ``segment`` or ``similarity``.
        independent: The probabilities do not sum to one (sigmoid outputs).
    """

    kind: ClassVar[str]
    independent: ClassVar[bool] = False
    has_masks: ClassVar[bool] = False

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        """``[batch, classes]``: what ranks the classes and is shown."""
        raise NotImplementedError

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        """``[batch, classes]``: what a map explains (``score``: logit or probability)."""
        raise NotImplementedError

    def masks(self, outputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        """``[batch, targets, H, W]`` uint8: each explained class's predicted mask."""
        raise NotImplementedError


@dataclass(frozen=True)
class ClassScores(Objective):
    """A softmax classifier: one class per image."""

    kind: ClassVar[str] = "class"

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(outputs)

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        return self.probabilities(outputs) if score == "probability" else outputs


@dataclass(frozen=True)
class LabelScores(ClassScores):
    """A multi-label classifier (sigmoid head): each label's probability is
    independent of the others', and each map explains one label's logit."""

    kind: ClassVar[str] = "label"
    independent: ClassVar[bool] = True

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.nn.sigmoid(outputs)


Region = tuple[float, float, float, float]


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
    sigmoid: bool = False
    region: Region | None = None

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


@dataclass(frozen=True)
class SimilarityScores(Objective):
    """An embedding model: the cosine similarity of each image's embedding to
    a reference embedding, "what makes this frame look like the reference".
    Its one "class" is the similarity, shown in [-1, 1].

    Attributes:
        reference: The reference image's embedding ``[dims]``.
        name: What the reference is called on screen (its file name).
        image: The reference image (BGR), to embed it again at another input size.
    """

    kind: ClassVar[str] = "similarity"
    reference: np.ndarray = field(compare=False)
    name: str = "reference"
    image: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        norm = float(np.linalg.norm(self.reference))
        if self.reference.ndim != 1 or norm == 0.0:
            raise TargetError(
                f"the reference embedding must be a non-zero vector, got shape "
                f"{self.reference.shape} and norm {norm:g}"
            )

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        embeddings = tf.reshape(outputs, [tf.shape(outputs)[0], -1])
        unit = tf.constant(self.reference / np.linalg.norm(self.reference), tf.float32)
        cosine = tf.linalg.matvec(tf.math.l2_normalize(embeddings, axis=1), unit)
        return cosine[:, None]

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        return self.probabilities(outputs)
