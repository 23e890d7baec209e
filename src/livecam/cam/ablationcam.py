"""Ablation-CAM: Desai & Ramaswamy, WACV 2020,
https://openaccess.thecvf.com/content_WACV_2020/papers/Desai_Ablation-CAM_Visual_Explanations_for_Deep_Convolutional_Network_via_Gradient-free_Localization_WACV_2020_paper.pdf."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method

CHUNK = 64  # ablated copies per call of the head


@register_method
class AblationCam(CamMethod):
    """A channel's weight is how much the score drops when it is zeroed,
    w_k = (y - y_k) / y, re-running only the layers after the CAM layer."""

    name = "ablationcam"
    paper = "https://openaccess.thecvf.com/content_WACV_2020/papers/Desai_Ablation-CAM_Visual_Explanations_for_Deep_Convolutional_Network_via_Gradient-free_Localization_WACV_2020_paper.pdf"
    needs = Needs(gradients=False, head=True)

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        activations = inputs.activations
        channels = activations.shape[-1]
        original = inputs.head_score(activations, inputs.class_ids)  # [b]
        dropped = tf.concat(
            [
                self._ablated(inputs, start, min(start + CHUNK, channels))
                for start in range(0, channels, CHUNK)
            ],
            axis=1,
        )
        safe = tf.where(tf.abs(original) > 0.0, original, tf.ones_like(original))
        return (original[:, None] - dropped) / safe[:, None]

    @staticmethod
    def _ablated(inputs: CamInputs, start: int, stop: int) -> tf.Tensor:
        """The score with each channel of ``[start, stop)`` zeroed in turn: ``[b, n]``."""
        activations = inputs.activations
        count, channels = stop - start, activations.shape[-1]
        keep = 1.0 - tf.one_hot(tf.range(start, stop), channels)  # [n, c]
        ablated = activations[:, None] * keep[None, :, None, None, :]  # [b, n, h, w, c]
        flat = tf.reshape(ablated, [-1, *activations.shape[1:]])
        scores = inputs.head_score(flat, tf.repeat(inputs.class_ids, count))
        return tf.reshape(scores, [-1, count])
