"""The tutorial's Grad-CAM, eagerly, one image at a time.

Kept as the yardstick: tests check the compiled engine against it, and the
benchmark measures how much faster compiling makes it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from livecam.models import LoadedModel


class EagerGradCam:
    """A fresh ``GradientTape`` per frame in eager mode, ``model.predict`` for the
    prediction, the channel-weighted mean, ReLU and max-normalisation."""

    def __init__(self, model: LoadedModel) -> None:
        import keras

        self.model = model
        layer = model.model.get_layer(model.cam_layer)
        self._grad_model = keras.Model(model.model.inputs, [layer.output, model.model.output])

    def predict(self, image_rgb: np.ndarray) -> np.ndarray:
        """Class scores of one RGB uint8 image at the model size."""
        inputs = self.model.preprocess(image_rgb[None].astype(np.float32))
        return self.model.model.predict(inputs, verbose=0)[0]

    def heatmap(self, image_rgb: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """The Grad-CAM map of ``class_index`` (default: top-1) for one image."""
        if class_index is None:
            class_index = int(np.argmax(self.predict(image_rgb)))
        inputs = self.model.preprocess(tf.constant(image_rgb[None], tf.float32))
        with tf.GradientTape() as tape:
            conv_output, predictions = self._grad_model(inputs)
            class_score = predictions[:, class_index]
        grads = tape.gradient(class_score, conv_output)[0].numpy()
        pooled = grads.mean(axis=(0, 1))
        heatmap = np.mean(conv_output[0].numpy() * pooled, axis=-1)
        heatmap = np.maximum(heatmap, 0)
        peak = heatmap.max()
        return heatmap / peak if peak > 0 else heatmap
