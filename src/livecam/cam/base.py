"""The shared base of every CAM method.

A method only says how to weight the channels of the CAM layer's activations;
the engine owns the forward pass, the gradient tape, the weighted sum, the ReLU
and the normalisation.
"""

from __future__ import annotations

from typing import ClassVar

import tensorflow as tf


class CamMethod:
    """One way of turning activations (and gradients) into channel weights.

    Subclasses set ``name`` and ``paper`` and override :meth:`channel_weights`.
    A method that needs no gradients sets ``uses_gradients = False``, and the
    engine then skips the backward pass.
    """

    name: ClassVar[str]
    paper: ClassVar[str]
    uses_gradients: ClassVar[bool] = True
    # Closed-form weights that assume the explained score is exp(logit) need the logit.
    logit_only: ClassVar[bool] = False

    def prepare(self, model, cam_layer: str) -> None:
        """Check the model suits the method and read what it needs from it."""

    def channel_weights(
        self, activations: tf.Tensor, gradients: tf.Tensor | None, class_ids: tf.Tensor
    ) -> tf.Tensor:
        """Weights ``[batch, channels]`` for activations ``[batch, h, w, channels]``.

        Args:
            activations: The CAM layer's output, float32.
            gradients: d(target score)/d(activations), or None without gradients.
            class_ids: The target class of each image, ``[batch]`` int32.
        """
        raise NotImplementedError
