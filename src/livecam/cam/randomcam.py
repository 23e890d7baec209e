"""RandomCAM: random channel weights, uniform in [-1, 1] (pytorch-grad-cam's
baseline, https://github.com/jacobgil/pytorch-grad-cam). Any method worth its
cost must beat it; a sanity check must catch it."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method


@register_method
class RandomCam(CamMethod):
    """The activations weighted by random numbers, the same for every image
    and call (a fixed seed), so that results are repeatable."""

    name = "randomcam"
    paper = "https://github.com/jacobgil/pytorch-grad-cam"
    needs = Needs(gradients=False)
    seed = (20, 19)

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        channels = tf.shape(inputs.activations)[-1]
        weights = tf.random.stateless_uniform([channels], self.seed, minval=-1.0, maxval=1.0)
        return tf.broadcast_to(weights, tf.shape(inputs.activations)[::3])
