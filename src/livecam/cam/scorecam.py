"""Score-CAM: Wang et al., CVPR workshops 2020, https://arxiv.org/abs/1910.01279."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method

CHUNK = 32  # masked images scored per model call


@register_method
class ScoreCam(CamMethod):
    """Each channel, upsampled and min-max normalised, masks the input; the
    class score of each masked input, through a softmax over channels, is
    the channel's weight. No gradient.

    Args:
        max_channels: Score only this many channels, those with the highest
            mean activation ("Faster Score-CAM"); None scores them all.
    """

    name = "scorecam"
    paper = "https://arxiv.org/abs/1910.01279"
    needs = Needs(gradients=False, scores_inputs=True)
    max_channels: int | None = None

    def __init__(self, max_channels: int | None = None) -> None:
        self.max_channels = max_channels

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        activations = inputs.activations
        channels = activations.shape[-1]
        kept = min(self.max_channels or channels, channels)
        strongest = tf.math.top_k(tf.reduce_mean(activations, axis=(1, 2)), kept).indices
        selected = tf.gather(activations, strongest, axis=3, batch_dims=1)  # [b, h, w, k]
        scores = tf.concat(
            [
                self._scores(inputs, selected[..., start : start + CHUNK])
                for start in range(0, kept, CHUNK)
            ],
            axis=1,
        )
        return selected * tf.nn.softmax(scores, axis=1)[:, None, None, :]

    @staticmethod
    def _scores(inputs: CamInputs, channels: tf.Tensor) -> tf.Tensor:
        """The explained score of the input masked by each channel: ``[b, k]``."""
        images = inputs.images
        height, width = images.shape[1], images.shape[2]
        masks = tf.image.resize(channels, [height, width], method="bilinear")
        low = tf.reduce_min(masks, axis=(1, 2), keepdims=True)
        high = tf.reduce_max(masks, axis=(1, 2), keepdims=True)
        masks = (masks - low) / tf.where(high > low, high - low, tf.ones_like(high))
        count = channels.shape[-1]
        masked = images[:, None] * tf.transpose(masks, [0, 3, 1, 2])[..., None]  # [b,k,H,W,3]
        flat = tf.reshape(masked, [-1, height, width, images.shape[3]])
        class_ids = tf.repeat(inputs.class_ids, count)
        return tf.reshape(inputs.score(flat, class_ids), [-1, count])
