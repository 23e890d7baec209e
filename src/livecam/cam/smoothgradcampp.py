"""Smooth Grad-CAM++: Omeiza et al., 2019, https://arxiv.org/abs/1908.01224."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.gradcam_plus_plus import GradCamPlusPlus, plus_plus_weights
from livecam.cam.registry import register_method


@register_method
class SmoothGradCamPlusPlus(CamMethod):
    """Grad-CAM++ with its derivatives averaged over noisy copies of the input
    (SmoothGrad): the first, second and third powers of the gradient are each
    averaged over :attr:`noise_samples` copies, Gaussian noise of
    :attr:`noise_level` times each image's value range; the alphas and weights
    are then Grad-CAM++'s, applied to the clean image's activations. The copies
    run in the same batched call as the image.
    """

    name = "smoothgradcam++"
    paper = "https://arxiv.org/abs/1908.01224"
    needs = Needs(
        logit_only=True,
        logit_reason=GradCamPlusPlus.logit_reason,
        noise_samples=8,
        noise_level=0.15,
    )

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        noisy = inputs.noisy_gradients  # [samples, batch, h, w, c]
        return plus_plus_weights(
            inputs.activations,
            tf.reduce_mean(noisy, axis=0),
            tf.reduce_mean(tf.square(noisy), axis=0),
            tf.reduce_mean(noisy**3, axis=0),
        )
