"""Eigen-CAM: Muhammad & Yeasin, IJCNN 2020, https://arxiv.org/abs/2008.00299,
and Eigen-Grad-CAM, its gradient-weighted variant (pytorch-grad-cam)."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method


@register_method
class EigenCam(CamMethod):
    """The activations' first principal component: no gradient, no class (the
    map is the same whatever the target)."""

    name = "eigencam"
    paper = "https://arxiv.org/abs/2008.00299"
    needs = Needs(gradients=False, projects=True)

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        return inputs.activations


@register_method
class EigenGradCam(CamMethod):
    """The first principal component of gradients times activations."""

    name = "eigengradcam"
    paper = "https://arxiv.org/abs/2008.00299"
    needs = Needs(projects=True)

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        return inputs.gradients * inputs.activations
