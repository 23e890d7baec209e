"""Grad-CAM, element-wise: the variant of pytorch-grad-cam
(https://github.com/jacobgil/pytorch-grad-cam), after HiResCAM
(https://arxiv.org/abs/2011.08891)."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod
from livecam.cam.registry import register_method


@register_method
class GradCamElementwise(CamMethod):
    """Gradients times activations, each product through a ReLU before the sum."""

    name = "gradcam-elementwise"
    paper = "https://arxiv.org/abs/2011.08891"

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        return tf.nn.relu(inputs.gradients * inputs.activations)
