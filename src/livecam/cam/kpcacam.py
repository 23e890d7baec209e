"""KPCA-CAM: Karmani et al., 2024, https://arxiv.org/abs/2410.00267: Eigen-CAM
with kernel PCA (pytorch-grad-cam's KPCA_CAM: a sigmoid kernel, gamma 1/channels)."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method


def kernel_projection(activations: tf.Tensor, coef0: float = 1.0) -> tf.Tensor:
    """``[batch, h, w, c]`` -> ``[batch, h, w]``: each position on the first
    component of the kernel PCA of the (centred) positions, with the sigmoid
    kernel tanh(x.y / c + coef0), as scikit-learn's KernelPCA computes it. Its
    sign follows the activations' mass (never an inverted map)."""
    shape = tf.shape(activations)
    positions = shape[1] * shape[2]
    flat = tf.reshape(activations, [shape[0], positions, shape[3]])
    flat -= tf.reduce_mean(flat, axis=1, keepdims=True)
    gamma = 1.0 / tf.cast(shape[3], flat.dtype)
    kernel = tf.tanh(gamma * tf.matmul(flat, flat, transpose_b=True) + coef0)
    ones = tf.fill([positions, positions], 1.0 / tf.cast(positions, flat.dtype))
    centred = kernel - ones @ kernel - kernel @ ones + ones @ kernel @ ones
    values, vectors = tf.linalg.eigh(centred)  # ascending
    top = vectors[:, :, -1] * tf.sqrt(tf.maximum(values[:, -1:], 0.0))
    mass = tf.reduce_sum(tf.reshape(activations, [shape[0], positions, shape[3]]), axis=2)
    agreement = tf.reduce_sum(top * (mass - tf.reduce_mean(mass, 1, keepdims=True)), 1)
    sign = tf.where(agreement < 0.0, -1.0, 1.0)
    return tf.reshape(top * sign[:, None], shape[:3])


@register_method
class KpcaCam(CamMethod):
    """The activations' first kernel principal component: no gradient, no class."""

    name = "kpcacam"
    paper = "https://arxiv.org/abs/2410.00267"
    needs = Needs(gradients=False)

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        return kernel_projection(inputs.activations)[..., None]
