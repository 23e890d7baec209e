"""Grad-CAM++: Chattopadhyay et al., WACV 2018, https://arxiv.org/abs/1710.11063."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod


class GradCamPlusPlus(CamMethod):
    """Positive gradients weighted per pixel by the closed-form alphas of the paper.

    With an exponential of the class score, the second and third derivatives
    are powers of the first, so one backward pass is enough (eq. 19 of the paper).
    """

    name = "gradcam++"
    paper = "https://arxiv.org/abs/1710.11063"
    logit_only = True
    logit_reason = (
        "derives its weights for an exponential of the logit (Chattopadhyay et al., eq. 19)"
    )

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        activations, gradients = inputs.activations, inputs.gradients
        grads_2 = tf.square(gradients)
        grads_3 = grads_2 * gradients
        activation_sums = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
        denominator = 2.0 * grads_2 + activation_sums * grads_3
        safe = tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
        alphas = tf.where(gradients != 0.0, grads_2 / safe, tf.zeros_like(gradients))
        return tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=(1, 2))
