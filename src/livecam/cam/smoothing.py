"""Test-time smoothing inside the compiled step: ``--aug-smooth``'s flipped and
intensity-scaled copies of the input, merged back into one map, and the noisy
copies of SmoothGrad-style methods (Smooth Grad-CAM++)."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamMethod, noise_pattern
from livecam.tensors import normalise

# Test-time augmentation of --aug-smooth, as in pytorch-grad-cam (ttach):
# horizontal flip x intensity factors. The original comes first.
AUGMENTATIONS = tuple((flip, factor) for flip in (False, True) for factor in (1.0, 0.9, 1.1))


def copies(aug_smooth: bool) -> int:
    """How many augmented copies of each input the step runs."""
    return len(AUGMENTATIONS) if aug_smooth else 1


def augmented(inputs: tf.Tensor, aug_smooth: bool) -> tf.Tensor:
    """The inputs, then (with ``aug_smooth``) each augmentation of them."""
    if not aug_smooth:
        return inputs
    return tf.concat(
        [
            (tf.reverse(inputs, axis=[2]) if flip else inputs) * factor
            for flip, factor in AUGMENTATIONS
        ],
        axis=0,
    )


def merged(maps: tf.Tensor, aug_smooth: bool) -> tf.Tensor:
    """The augmented copies' maps mapped back (unflipped) and averaged."""
    if not aug_smooth:
        return maps
    parts = tf.split(maps, len(AUGMENTATIONS), axis=0)
    restored = [
        tf.reverse(part, axis=[2]) if flip else part
        for part, (flip, _) in zip(parts, AUGMENTATIONS, strict=True)
    ]
    return normalise(tf.reduce_mean(tf.stack(restored), axis=0))


def with_noise(inputs: tf.Tensor, method: CamMethod) -> tf.Tensor:
    """The inputs, then the method's noisy copies of them (SmoothGrad)."""
    samples = method.noise_samples
    if not samples:
        return inputs
    low = tf.reduce_min(inputs, axis=(1, 2, 3), keepdims=True)
    high = tf.reduce_max(inputs, axis=(1, 2, 3), keepdims=True)
    sigma = method.noise_level * (high - low)
    noisy = inputs[None] + noise_pattern(samples, inputs.shape[1:]) * sigma[None]
    return tf.concat([inputs, tf.reshape(noisy, tf.concat([[-1], tf.shape(inputs)[1:]], 0))], 0)
