"""An embedding model (``--similar-to``): a map explains the cosine similarity
of each frame's embedding to a reference image's, "what makes this frame look
like the reference" (pytorch-grad-cam's ``SimilarityToConceptTarget``). Its one
"class" is the similarity, shown in [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from livecam.errors import TargetError
from livecam.frames import model_input, read_image
from livecam.kinds.base import KindOptions, Objective, register_kind


@register_kind
@dataclass(frozen=True)
class SimilarityScores(Objective):
    """The similarity to a reference embedding.

    Attributes:
        reference: The reference image's embedding ``[dims]``.
        name: What the reference is called on screen (its file name).
        image: The reference image (BGR), to embed it again at another input size.
    """

    kind: ClassVar[str] = "similarity"
    explains: ClassVar[str] = "with --similar-to, embeddings [batch, dims]"
    priority: ClassVar[int] = 10
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

    @classmethod
    def recognise(cls, output_shape, normalisation, options: KindOptions):
        if options.similar_to is None:
            return None
        return Unembedded(*_reference(options.similar_to))

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        embeddings = tf.reshape(outputs, [tf.shape(outputs)[0], -1])
        unit = tf.constant(self.reference / np.linalg.norm(self.reference), tf.float32)
        cosine = tf.linalg.matvec(tf.math.l2_normalize(embeddings, axis=1), unit)
        return cosine[:, None]

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        return self.probabilities(outputs)

    @staticmethod
    def value_text(probability: float) -> str:
        return f"{probability:+.2f}"

    def class_names(self) -> list[str]:
        return [f"similarity to {self.name}"]

    def for_variant(self, bundle: Any) -> SimilarityScores:
        # the reference is embedded by the same variant as the frames it is compared with
        return similarity_to(bundle, self.image, self.name)


@dataclass(frozen=True)
class Unembedded(Objective):
    """A similarity whose reference waits for the model that embeds it
    (:meth:`for_variant` once the model is loaded)."""

    kind: ClassVar[str] = "similarity"
    image: np.ndarray = field(compare=False, repr=False)
    name: str = "reference"

    def class_names(self) -> list[str]:
        return ["similarity"]

    def for_variant(self, bundle: Any) -> SimilarityScores:
        return similarity_to(bundle, self.image, self.name)


def similarity_to(bundle: Any, image: np.ndarray, name: str) -> SimilarityScores:
    """The similarity objective of ``bundle`` (a loaded model) to a BGR
    reference ``image``: the image is embedded by ``bundle``'s own model."""
    batch = model_input([image], bundle.input_size)
    inputs = bundle.preprocess(tf.cast(batch, tf.float32))
    embedding = np.asarray(tf.cast(bundle.model(inputs, training=False), tf.float32))
    return SimilarityScores(embedding.reshape(-1), name, image)


def _reference(similar_to: str | Path | np.ndarray) -> tuple[np.ndarray, str]:
    if isinstance(similar_to, np.ndarray):
        return similar_to, "reference"
    return read_image(similar_to), Path(similar_to).name
