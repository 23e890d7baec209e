"""LayerCAM: Jiang et al., IEEE TIP 2021, https://ieeexplore.ieee.org/document/9462463."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod
from livecam.cam.registry import register_method


@register_method
class LayerCam(CamMethod):
    """Activations weighted, position by position, by their positive gradients."""

    name = "layercam"
    paper = "https://ieeexplore.ieee.org/document/9462463"

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        return tf.nn.relu(inputs.gradients) * inputs.activations
