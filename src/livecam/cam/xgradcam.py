"""XGrad-CAM: Fu et al., BMVC 2020, https://arxiv.org/abs/2008.02312."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod
from livecam.cam.registry import register_method

EPSILON = 1e-7


@register_method
class XGradCam(CamMethod):
    """Gradients averaged with the activations as weights: w_c = Σ(G·A) / (ΣA + ε)."""

    name = "xgradcam"
    paper = "https://arxiv.org/abs/2008.02312"

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        activations = inputs.activations
        products = tf.reduce_sum(inputs.gradients * activations, axis=(1, 2))
        return products / (tf.reduce_sum(activations, axis=(1, 2)) + EPSILON)
