"""Tensor helpers shared by the compiled CAM step and the runtimes' conversions
(OpenVINO computes Grad-CAM's maps and the ranked classes inside its model):
one definition, so the two cannot drift apart."""

from __future__ import annotations

import tensorflow as tf


def normalise(cams: tf.Tensor) -> tf.Tensor:
    """ReLU, then divide each map by its maximum; an all-zero map stays zero."""
    cams = tf.nn.relu(cams)
    peak = tf.reduce_max(cams, axis=(1, 2), keepdims=True)
    return cams / tf.where(peak > 0.0, peak, tf.ones_like(peak))


def ranked_class_ids(probabilities: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """``[batch, targets]`` class ids: a target code >= 0 is that class, -r-1
    the r-th most likely (ties: the lower class id first)."""
    order = tf.argsort(probabilities, axis=-1, direction="DESCENDING", stable=True)
    by_rank = tf.gather(order, tf.maximum(-targets - 1, 0), axis=1)
    fixed = tf.broadcast_to(targets[None, :], tf.shape(by_rank))
    return tf.where(fixed >= 0, fixed, by_rank)


def combine_layers(maps: list[tf.Tensor]) -> tf.Tensor:
    """Several layers' maps ``[batch, h, w]``: each resized to the largest grid,
    averaged and normalised (pytorch-grad-cam's multi-layer aggregation)."""
    if len(maps) == 1:
        return maps[0]
    largest = max((m.shape[1] * m.shape[2], (m.shape[1], m.shape[2])) for m in maps)[1]
    resized = [tf.image.resize(m[..., None], largest, method="bilinear")[..., 0] for m in maps]
    return normalise(tf.reduce_mean(tf.stack(resized), axis=0))
