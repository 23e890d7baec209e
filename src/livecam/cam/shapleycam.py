"""ShapleyCAM: Cai, 2025, https://arxiv.org/abs/2501.06261 (as in pytorch-grad-cam):
Grad-CAM's weights corrected by a second-order term, from a Shapley-value
reading of CAM methods."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method


@register_method
class ShapleyCam(CamMethod):
    """Each channel weighted by mean_hw(G - H.A / 2): the gradient minus half the
    Hessian of the score applied to the activations. Where the layers after the
    CAM layer are piecewise linear and the score is the logit, H.A is zero and
    the map is Grad-CAM's; the probability score brings the softmax's curvature."""

    name = "shapleycam"
    paper = "https://arxiv.org/abs/2501.06261"
    needs = Needs(hessian=True)

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        corrected = inputs.gradients - 0.5 * inputs.hessian_product
        return tf.reduce_mean(corrected, axis=(1, 2))
