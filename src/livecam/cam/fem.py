"""FEM, the Feature Explanation Method: Fuad et al., IPTA 2020,
https://doi.org/10.1109/IPTA50016.2020.9286629 (as in pytorch-grad-cam and Xplique)."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method


@register_method
class Fem(CamMethod):
    """Gradient-free: each channel's unusually strong positions (above its mean
    plus ``k`` standard deviations over height and width), weighted by the
    channel's mean. The same map whatever the class."""

    name = "fem"
    paper = "https://doi.org/10.1109/IPTA50016.2020.9286629"
    needs = Needs(gradients=False)
    k = 2.0

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        activations = inputs.activations
        mean = tf.reduce_mean(activations, axis=(1, 2), keepdims=True)
        std = tf.math.reduce_std(activations, axis=(1, 2), keepdims=True)
        strong = tf.cast(activations > mean + self.k * std, activations.dtype)
        return strong * mean
