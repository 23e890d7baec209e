"""A CAM method added as one module: the registration is the test's fixture."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod


class AbsGradCam(CamMethod):
    """Grad-CAM with each channel weighted by its mean *absolute* gradient."""

    name = "absgradcam"
    paper = "(a test's plug-in)"

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        return tf.reduce_mean(tf.abs(inputs.gradients), axis=(1, 2))
