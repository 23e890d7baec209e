"""HiResCAM: Draelos & Carin, 2020, https://arxiv.org/abs/2011.08891."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod
from livecam.cam.registry import register_method


@register_method
class HiResCam(CamMethod):
    """Gradients times activations, position by position (no averaging): the
    map is faithful to what the score actually used."""

    name = "hirescam"
    paper = "https://arxiv.org/abs/2011.08891"

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        return inputs.gradients * inputs.activations
