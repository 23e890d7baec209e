"""Tokens to a grid: the reshape step before any method runs.

A transformer layer outputs tokens ``[batch, tokens, channels]``: a few
leading extra tokens (class, distillation, register) and then the patches,
row by row. Every CAM method works on maps ``[batch, h, w, channels]``, so the
activations and their gradients are cut to the patch tokens and reshaped to
the patch grid; for the methods that run the rest of the model on modified
activations (Ablation-CAM), :meth:`TokenGrid.to_tokens` puts them back.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class TokenGrid:
    """How a token layer's output maps to the patch grid.

    Attributes:
        height, width: The patch grid (14x14 for a ViT-B/16 at 224 px).
        skip: How many leading tokens are not patches (1 for a class token).
    """

    height: int
    width: int
    skip: int = 0

    @property
    def tokens(self) -> int:
        return self.skip + self.height * self.width

    def describe(self) -> str:
        return f"{self.height}x{self.width} grid after {self.skip} extra token(s)"

    def to_map(self, tokens: tf.Tensor) -> tf.Tensor:
        """``[batch, tokens, channels]`` -> ``[batch, height, width, channels]``."""
        patches = tokens[:, self.skip :, :]
        return tf.reshape(patches, [-1, self.height, self.width, tokens.shape[-1]])

    def to_tokens(self, maps: tf.Tensor, original: tf.Tensor) -> tf.Tensor:
        """The inverse of :meth:`to_map` for ``maps`` derived from ``original``
        tokens: each row of ``original`` gives its extra tokens to the
        consecutive rows of ``maps`` made from it (Ablation-CAM's copies)."""
        copies = tf.shape(maps)[0] // tf.shape(original)[0]
        extra = tf.repeat(original[:, : self.skip, :], copies, axis=0)
        patches = tf.reshape(maps, [-1, self.height * self.width, maps.shape[-1]])
        return tf.concat([tf.cast(extra, patches.dtype), patches], axis=1)
