"""Grad-CAM: Selvaraju et al., ICCV 2017, https://arxiv.org/abs/1610.02391."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method


@register_method
class GradCam(CamMethod):
    """Each channel is weighted by its gradient averaged over height and width."""

    name = "gradcam"
    paper = "https://arxiv.org/abs/1610.02391"
    needs = Needs(mean_gradient=True)

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        return tf.reduce_mean(inputs.gradients, axis=(1, 2))
