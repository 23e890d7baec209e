"""FinerCAM: Zhang et al., CVPR 2025, https://arxiv.org/abs/2501.11309 (as in
pytorch-grad-cam's FinerCAM with Grad-CAM and FinerWeightedTarget)."""

from __future__ import annotations

import tensorflow as tf

from livecam.cam.base import CamInputs, CamMethod, Needs
from livecam.cam.registry import register_method
from livecam.errors import MethodError


@register_method
class FinerCam(CamMethod):
    """Grad-CAM of the class's logit contrasted with its nearest rivals: the
    ``rivals`` classes whose logits are closest to it. The explained score is
    sum_k p_k (y_c - alpha y_k) / sum_k p_k, with p_k their softmax probabilities,
    so the map shows what sets the class apart from the ones it is confused with."""

    name = "finercam"
    paper = "https://arxiv.org/abs/2501.11309"
    needs = Needs(
        logit_only=True, logit_reason="contrasts logits (the paper's score is defined on them)"
    )
    rivals = 3
    alpha = 1.0

    def prepare(self, model, cam_layer: str) -> None:
        if (model.output_shape[-1] or 0) < 2:
            raise MethodError(
                f"method 'finercam' contrasts a class with others; model {model.name!r} "
                f"has {model.output_shape[-1]} output"
            )

    def explained(self, scores: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        single = class_ids.shape.rank == 1
        ids = class_ids[:, None] if single else class_ids  # [batch, targets]
        own = tf.gather(scores, ids, batch_dims=1)
        distance = tf.abs(scores[:, None, :] - own[:, :, None])  # [batch, targets, classes]
        itself = tf.one_hot(ids, tf.shape(scores)[1], on_value=True, off_value=False)
        distance = tf.where(itself, tf.fill(tf.shape(distance), float("inf")), distance)
        _, rivals = tf.math.top_k(-distance, k=min(self.rivals, scores.shape[1] - 1))
        weights = tf.gather(tf.nn.softmax(scores), rivals, batch_dims=1)
        contrasts = own[..., None] - self.alpha * tf.gather(scores, rivals, batch_dims=1)
        score = tf.reduce_sum(weights * contrasts, -1) / (tf.reduce_sum(weights, -1) + 1e-9)
        return score[:, 0] if single else score

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        return tf.reduce_mean(inputs.gradients, axis=(1, 2))
