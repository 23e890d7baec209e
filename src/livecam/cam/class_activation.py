"""CAM: Zhou et al., CVPR 2016, https://arxiv.org/abs/1512.04150."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method
from livecam.errors import MethodError
from livecam.models import graph


@register_method
class ClassActivationMap(CamMethod):
    """Channels weighted by the class's row of the dense layer after global
    average pooling. Needs no gradient, only a GAP -> Dense head."""

    name = "cam"
    paper = "https://arxiv.org/abs/1512.04150"
    needs = Needs(gradients=False)

    def __init__(self) -> None:
        self._kernel: tf.Variable | None = None

    def prepare(self, model, cam_layer: str) -> None:
        dense = graph.gap_dense_head(model, cam_layer)
        if dense is None:
            after = [type(layer).__name__ for layer in graph.head_after(model, cam_layer)]
            raise MethodError(
                f"method 'cam' needs GlobalAveragePooling2D -> Dense right after layer "
                f"{cam_layer!r}, but model {model.name!r} has {' -> '.join(after) or 'nothing'}; "
                f"use gradcam instead"
            )
        self._kernel = dense.kernel  # [channels, classes]

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        kernel = tf.cast(self._kernel, tf.float32)
        return tf.transpose(tf.gather(kernel, inputs.class_ids, axis=1))
