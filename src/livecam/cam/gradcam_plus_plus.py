"""Grad-CAM++: Chattopadhyay et al., WACV 2018, https://arxiv.org/abs/1710.11063."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method


@register_method
class GradCamPlusPlus(CamMethod):
    """Positive gradients weighted per pixel by the closed-form alphas of the paper.

    With an exponential of the class score, the second and third derivatives
    are powers of the first, so one backward pass is enough (eq. 19 of the paper).
    """

    name = "gradcam++"
    paper = "https://arxiv.org/abs/1710.11063"
    needs = Needs(
        logit_only=True,
        logit_reason=(
            "derives its weights for an exponential of the logit (Chattopadhyay et al., eq. 19)"
        ),
    )

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        gradients = inputs.gradients
        return plus_plus_weights(inputs.activations, gradients, tf.square(gradients), gradients**3)


def plus_plus_weights(
    activations: tf.Tensor, first: tf.Tensor, second: tf.Tensor, third: tf.Tensor
) -> tf.Tensor:
    """Grad-CAM++'s channel weights from the first, second and third powers of the
    gradient (or their averages, for Smooth Grad-CAM++): sum_hw(alpha * ReLU(first))
    with alpha = second / (2 * second + sum_hw(A) * third), zero where second is."""
    activation_sums = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    denominator = 2.0 * second + activation_sums * third
    safe = tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
    alphas = tf.where(second != 0.0, second / safe, tf.zeros_like(second))
    return tf.reduce_sum(alphas * tf.nn.relu(first), axis=(1, 2))
