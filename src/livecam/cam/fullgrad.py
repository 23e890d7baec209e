"""FullGrad: Srinivas & Fleuret, NeurIPS 2019, https://arxiv.org/abs/1905.00780."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method
from livecam.errors import MethodError
from livecam.models.graph import iter_layers, output_shape

# layers whose output carries a per-channel bias on a spatial map
_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")


@register_method
class FullGrad(CamMethod):
    """The input-gradient times the input, plus, for every convolution and batch
    normalisation of the model, the gradient at its output times its bias; each
    term made absolute, min-max scaled per image, summed over channels and
    resized to the input (the authors' implementation, fullgrad-saliency).

    The map has the input's resolution and does not depend on the CAM layer.
    A batch normalisation's bias is the one it folds to:
    ``beta - mean * gamma / sqrt(variance + epsilon)``.
    """

    name = "fullgrad"
    paper = "https://arxiv.org/abs/1905.00780"
    needs = Needs(input_gradients=True)

    def prepare(self, model, cam_layer: str) -> None:
        explained = next(layer for layer in iter_layers(model) if layer.name == cam_layer)
        if len(output_shape(explained) or ()) == 3:
            raise MethodError(
                f"method 'fullgrad' sums the bias-gradients of spatial layers; model "
                f"{model.name!r} works on tokens after its patch embedding, so FullGrad "
                f"would see the input and that layer alone: choose gradcam or another method"
            )
        self._layers = [layer for layer in iter_layers(model) if _has_spatial_bias(layer)]
        if not self._layers:
            raise MethodError(
                f"method 'fullgrad' sums the bias-gradients of convolutions and batch "
                f"normalisations; model {model.name!r} has none on a spatial map"
            )

    def gradient_layers(self) -> list[str]:
        return [layer.name for layer in self._layers]

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        size = inputs.images.shape[1:3]
        terms = [_scaled_sum(tf.abs(inputs.input_gradients * inputs.images), size)]
        for layer, gradients in zip(self._layers, inputs.layer_gradients, strict=True):
            terms.append(_scaled_sum(tf.abs(gradients * bias(layer)), size))
        return tf.stack(terms, axis=-1)


def _has_spatial_bias(layer) -> bool:
    shape = output_shape(layer)
    if shape is None or len(shape) != 4:
        return False
    kind = type(layer).__name__
    if kind in _CONVOLUTIONS:
        return bool(getattr(layer, "use_bias", False))
    return kind == "BatchNormalization" and layer.axis in (-1, 3, [3], [-1])


def bias(layer) -> tf.Tensor:
    """The per-channel bias a layer adds, float32 ``[channels]``."""
    if type(layer).__name__ != "BatchNormalization":
        return tf.cast(layer.bias, tf.float32)
    mean = tf.cast(layer.moving_mean, tf.float32)
    variance = tf.cast(layer.moving_variance, tf.float32)
    gamma = tf.cast(layer.gamma, tf.float32) if layer.scale else 1.0
    beta = tf.cast(layer.beta, tf.float32) if layer.center else 0.0
    return beta - mean * gamma / tf.sqrt(variance + layer.epsilon)


def _scaled_sum(term: tf.Tensor, size) -> tf.Tensor:
    """Each image's term min-max scaled over all its values, summed over the
    channels and resized (bilinear) to ``size``: ``[batch, H, W]``."""
    low = tf.reduce_min(term, axis=(1, 2, 3), keepdims=True)
    term = term - low
    high = tf.reduce_max(term, axis=(1, 2, 3), keepdims=True)
    summed = tf.reduce_sum(term / (high + 1e-6), axis=-1, keepdims=True)
    if tuple(summed.shape[1:3]) != tuple(size):
        summed = tf.image.resize(summed, size, method="bilinear")
    return summed[..., 0]
