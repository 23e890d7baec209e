"""The gradient of a dense head, written with forward operations only.

OpenVINO converts a model's forward operations but not TensorFlow's gradient
operations (``ReluGrad``, ``MaxPoolGrad``), so the layers after the CAM layer
stay in TensorFlow for their gradient, and there TensorFlow pays for them on
every frame (VGG16 in bfloat16: its 103 M-weight ``fc1`` is cast from float32
each call). A head that is a chain of pooling, ``Flatten``, ``Dropout`` and
``Dense`` layers with ReLU or no activation (VGG, ResNet, EfficientNet,
MobileNet heads) has a gradient that is itself a forward computation: the
transposed kernels, the ReLU masks, the pooling windows' first maximum. This
module writes it out so OpenVINO runs the head and its gradient too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

# what may come before the first Dense: the grid sum passes through them
GRID_LAYERS = {"MaxPooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dropout"}
# Applies the head's layer to the forward value, returns (output, backward),
# where backward maps d/d(output) [batch, targets, ...] to d/d(input).
Step = tuple[tf.Tensor, Callable[[tf.Tensor], tf.Tensor]]


def head_model(model):
    """The layers of a :class:`~livecam.models.LoadedModel` after its CAM layer, as a model."""
    import keras

    return keras.Model(model.model.get_layer(model.cam_layer).output, model.model.output)


def head_layers(head) -> list | None:
    """The head's layers in order if they form a chain this module can
    differentiate (checked by running them one after another against the
    head on random activations), else None."""
    layers = [layer for layer in head.layers if _kind(layer) != "InputLayer"]
    if not all(_supported(layer) for layer in layers):
        return None
    kinds = [_kind(layer) for layer in layers]
    if "Dense" not in kinds or not set(kinds[: kinds.index("Dense")]) <= GRID_LAYERS:
        return None  # run_head_for_mean sums over the grid up to the first Dense
    shape = [2, *head.inputs[0].shape[1:]]
    if None in shape:
        return None
    sample = tf.random.stateless_uniform(shape, seed=(1, 2))
    chained = sample
    for layer in layers:
        chained = layer(chained, training=False)
    expected = head(sample, training=False)
    if chained.shape != expected.shape or not np.allclose(chained, expected, rtol=1e-3, atol=1e-4):
        return None  # not a chain: a branch or a skip connection
    return layers


def logits_and_gradients(layers: list, activations: tf.Tensor, class_ids: tf.Tensor):
    """The head's logits ``[batch, classes]`` and d(logit of class_ids[:, k]) /
    d(activations) for each target k: ``[batch, targets, *activations.shape[1:]]``."""
    logits, gradients_of = run_head(layers, activations)
    return logits, gradients_of(class_ids)


def run_head(layers: list, activations: tf.Tensor):
    """The head's logits, and the function from ``[batch, targets]`` class ids
    to the gradients of their logits at ``activations``."""
    value, backwards = activations, []
    for layer in layers:
        value, backward = _step(layer, value)
        backwards.append(backward)

    def gradients_of(class_ids: tf.Tensor) -> tf.Tensor:
        gradient = tf.one_hot(class_ids, tf.shape(value)[-1], dtype=value.dtype)
        for backward in reversed(backwards):
            gradient = backward(gradient)
        return gradient

    return value, gradients_of


def run_head_for_mean(layers: list, activations: tf.Tensor):
    """As :func:`run_head`, but the gradients averaged over the grid,
    ``[batch, targets, 1, 1, channels]``: all Grad-CAM needs.

    Each pooling layer sends a cell's gradient to one position (max) or spreads
    it evenly (average), so the gradient summed over the CAM layer's grid is
    the gradient summed over the pooled grid, and through ``Flatten`` that is
    the first ``Dense`` kernel's rows summed over the grid (``channels x
    units``: VGG16's 103 M weights become 2 M). That replaces the second pass
    over the whole kernel, which at batch 1 costs as much as the forward pass
    (both are bound by reading the kernel)."""
    first = next(i for i, layer in enumerate(layers) if _kind(layer) == "Dense")
    value = grid = activations
    for layer in layers[:first]:  # pooling, Flatten, Dropout
        value, _ = _step(layer, value)
        if value.shape.rank == 4:
            grid = value
    dense = layers[first]
    kernel = tf.convert_to_tensor(dense.kernel, tf.float32)
    summed_kernel = tf.reduce_sum(tf.reshape(kernel, [-1, grid.shape[-1], kernel.shape[-1]]), 0)
    value, through_dense = _dense(dense, value)
    backwards = []
    for layer in layers[first + 1 :]:
        value, backward = _step(layer, value)
        backwards.append(backward)
    cells = tf.cast(tf.shape(activations)[1] * tf.shape(activations)[2], activations.dtype)

    def mean_gradients_of(class_ids: tf.Tensor) -> tf.Tensor:
        gradient = tf.one_hot(class_ids, tf.shape(value)[-1], dtype=value.dtype)
        for backward in reversed(backwards):
            gradient = backward(gradient)
        at_units = through_dense.activation(gradient)  # d/d(the first Dense's z)
        summed = tf.einsum("btj,cj->btc", at_units, summed_kernel)
        return (summed / cells)[:, :, None, None, :]

    return value, mean_gradients_of


def _kind(layer) -> str:
    return layer.__class__.__name__


def _supported(layer) -> bool:
    kind = _kind(layer)
    if kind == "Dense":
        return _activation(layer) in ("linear", "relu") and len(layer.input.shape) == 2
    if kind == "MaxPooling2D":
        return (
            tuple(layer.pool_size) == (2, 2)
            and tuple(layer.strides) == (2, 2)
            and layer.padding == "valid"
            and layer.data_format == "channels_last"
        )
    if kind == "ReLU":
        return not layer.negative_slope and not layer.threshold and layer.max_value is None
    if kind == "Activation":
        return _activation(layer) in ("linear", "relu")
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return layer.data_format == "channels_last" and not layer.keepdims
    return kind in ("Flatten", "Dropout")


def _activation(layer) -> str:
    return getattr(layer.activation, "__name__", "")


def _step(layer, x: tf.Tensor) -> Step:
    kind = _kind(layer)
    if kind == "Dense":
        return _dense(layer, x)
    if kind in ("ReLU", "Activation"):
        return _relu(x) if kind == "ReLU" or _activation(layer) == "relu" else (x, _same)
    if kind == "MaxPooling2D":
        return _max_pool(x)
    if kind == "GlobalAveragePooling2D":
        return _global_average(x)
    if kind == "GlobalMaxPooling2D":
        return _global_max(x)
    if kind == "Flatten":
        return tf.reshape(x, [tf.shape(x)[0], -1]), _reshaped_like(x)
    return x, _same  # Dropout: the identity at inference


def _same(gradient: tf.Tensor) -> tf.Tensor:
    return gradient


class _DenseBackward:
    """d/d(input) of a Dense layer; ``activation`` alone goes back to its z."""

    def __init__(self, kernel: tf.Tensor, activation: Callable[[tf.Tensor], tf.Tensor]) -> None:
        self.kernel = kernel
        self.activation = activation

    def __call__(self, gradient: tf.Tensor) -> tf.Tensor:
        return tf.einsum("btj,ij->bti", self.activation(gradient), self.kernel)


def _dense(layer, x: tf.Tensor) -> tuple[tf.Tensor, _DenseBackward]:
    kernel = tf.convert_to_tensor(layer.kernel, tf.float32)
    z = tf.matmul(x, kernel)
    if layer.use_bias:
        z = z + tf.convert_to_tensor(layer.bias, tf.float32)
    if _activation(layer) != "relu":
        return z, _DenseBackward(kernel, _same)
    output, through_relu = _relu(z)
    return output, _DenseBackward(kernel, through_relu)


def _relu(x: tf.Tensor) -> Step:
    passes = tf.cast(x > 0, x.dtype)[:, None]  # the gradient of max(x, 0); 0 at 0, as TF's
    return tf.nn.relu(x), lambda gradient: gradient * passes


def _reshaped_like(x: tf.Tensor) -> Callable[[tf.Tensor], tf.Tensor]:
    def backward(gradient: tf.Tensor) -> tf.Tensor:
        shape = tf.concat([tf.shape(gradient)[:2], tf.shape(x)[1:]], axis=0)
        return tf.reshape(gradient, shape)

    return backward


def _global_average(x: tf.Tensor) -> Step:
    cells = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)

    def backward(gradient: tf.Tensor) -> tf.Tensor:  # [b, t, c] -> [b, t, h, w, c]
        ones = tf.ones_like(x)[:, None]
        return ones * (gradient / cells)[:, :, None, None, :]

    return tf.reduce_mean(x, axis=(1, 2)), backward


def _global_max(x: tf.Tensor) -> Step:
    shape = tf.shape(x)
    flat = tf.reshape(x, [shape[0], -1, shape[3]])
    first = tf.one_hot(tf.argmax(flat, axis=1), tf.shape(flat)[1], axis=1, dtype=x.dtype)

    def backward(gradient: tf.Tensor) -> tf.Tensor:  # the first maximum takes it all
        spread = first[:, None] * gradient[:, :, None, :]
        return tf.reshape(spread, tf.concat([tf.shape(gradient)[:2], shape[1:]], axis=0))

    return tf.reduce_max(flat, axis=1), backward


def _max_pool(x: tf.Tensor) -> Step:
    """2x2, stride 2, valid: each window's gradient goes to its first maximum
    (row-major, as TensorFlow's ``MaxPoolGrad``); an odd last row or column
    is outside every window and gets none."""
    shape = tf.shape(x)
    height, width, channels = shape[1] // 2, shape[2] // 2, x.shape[-1]
    even = x[:, : height * 2, : width * 2]
    windows = tf.reshape(tf.nn.space_to_depth(even, 2), [shape[0], height, width, 4, channels])
    first = tf.one_hot(tf.argmax(windows, axis=3), 4, axis=3, dtype=x.dtype)

    def backward(gradient: tf.Tensor) -> tf.Tensor:  # [b, t, h/2, w/2, c]
        targets = tf.shape(gradient)[1]
        spread = first[:, None] * gradient[:, :, :, :, None, :]
        blocks = tf.reshape(spread, [-1, height, width, 4 * channels])
        full = tf.nn.depth_to_space(blocks, 2)
        padded = tf.pad(
            full, [[0, 0], [0, shape[1] - height * 2], [0, shape[2] - width * 2], [0, 0]]
        )
        return tf.reshape(padded, tf.concat([[shape[0], targets], shape[1:]], axis=0))

    return tf.reduce_max(windows, axis=3), backward
