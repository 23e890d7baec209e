"""The compiled CAM step: forward pass, gradient tape and map, one ``tf.function``.

The step is traced once per number of targets: its input signature fixes the
image size and leaves the batch free, so a whole video is a single trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from livecam.cam.base import CamMethod
from livecam.cam.class_activation import ClassActivationMap
from livecam.cam.gradcam import GradCam
from livecam.cam.gradcam_plus_plus import GradCamPlusPlus
from livecam.cam.targets import Target, encode, top
from livecam.errors import MethodError
from livecam.models import LoadedModel, graph

METHODS: dict[str, type[CamMethod]] = {
    method.name: method for method in (GradCam, GradCamPlusPlus, ClassActivationMap)
}
SCORES = ("logit", "probability")


def make_method(name: str) -> CamMethod:
    """A CAM method by name (``gradcam``, ``gradcam++``, ``cam``)."""
    try:
        return METHODS[name.lower()]()
    except KeyError:
        raise MethodError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None


@dataclass
class CamOutput:
    """What one call of the step returns, as numpy arrays.

    Attributes:
        maps: ``[batch, targets, h, w]`` float32 in [0, 1] at the CAM layer's resolution.
        probabilities: ``[batch, classes]`` float32.
        class_ids: ``[batch, targets]`` int32, the class each map explains.
    """

    maps: np.ndarray
    probabilities: np.ndarray
    class_ids: np.ndarray


def normalise(cams: tf.Tensor) -> tf.Tensor:
    """ReLU, then divide each map by its maximum; an all-zero map stays zero."""
    cams = tf.nn.relu(cams)
    peak = tf.reduce_max(cams, axis=(1, 2), keepdims=True)
    return cams / tf.where(peak > 0.0, peak, tf.ones_like(peak))


class CamEngine:
    """Computes class activation maps for batches of frames.

    Args:
        model: A model from :func:`livecam.models.load_model`.
        method: ``gradcam`` (default), ``gradcam++`` or ``cam``.
        score: Differentiate the ``logit`` (default, as in the paper) or the
            softmax ``probability`` (as in the Keras tutorial).

    Example:
        >>> engine = CamEngine(load_model("lite0"))
        >>> out = engine(batch_rgb_uint8, targets=top(3))
    """

    def __init__(self, model: LoadedModel, method: str = "gradcam", score: str = "logit") -> None:
        if score not in SCORES:
            raise MethodError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")
        self.model = model
        self.method = make_method(method)
        if self.method.logit_only and score != "logit":
            raise MethodError(
                f"method {self.method.name!r} derives its weights for an exponential of the "
                f"logit (Chattopadhyay et al., eq. 19): it needs score 'logit', not {score!r}"
            )
        self.method.prepare(model.model, model.cam_layer)
        self.score = score
        self._feature_model = graph.feature_and_output_model(model.model, model.cam_layer)
        self._steps: dict[int, tf.types.experimental.GenericFunction] = {}
        self.trace_count = 0

    @property
    def input_size(self) -> tuple[int, int]:
        return self.model.input_size

    def __call__(self, images: np.ndarray, targets: Sequence[Target] | None = None) -> CamOutput:
        """Run the compiled step.

        Args:
            images: RGB uint8 ``[batch, height, width, 3]`` at :attr:`input_size`.
            targets: What each map explains; default the top-1 class.
        """
        codes = encode(targets or top(1), self.model.num_classes)
        maps, probabilities, class_ids = self._step(len(codes))(images, codes)
        return CamOutput(maps.numpy(), probabilities.numpy(), class_ids.numpy())

    def _step(self, num_targets: int):
        if num_targets not in self._steps:
            height, width = self.input_size
            signature = [
                tf.TensorSpec([None, height, width, 3], tf.uint8, name="images"),
                tf.TensorSpec([num_targets], tf.int32, name="targets"),
            ]
            self._steps[num_targets] = tf.function(self._compute, input_signature=signature)
        return self._steps[num_targets]

    def _class_ids(self, probabilities: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        order = tf.argsort(probabilities, axis=-1, direction="DESCENDING", stable=True)
        by_rank = tf.gather(order, tf.maximum(-targets - 1, 0), axis=1)
        fixed = tf.broadcast_to(targets[None, :], tf.shape(by_rank))
        return tf.where(fixed >= 0, fixed, by_rank)

    def _compute(self, images: tf.Tensor, targets: tf.Tensor):
        self.trace_count += 1  # runs only while tracing
        num_targets = targets.shape[0]
        inputs = self.model.preprocess(tf.cast(images, tf.float32))
        with tf.GradientTape(persistent=True) as tape:
            activations, scores = self._feature_model(inputs, training=False)
            logits = tf.cast(scores, tf.float32)
            normalise_scores = (
                tf.nn.sigmoid if self.model.normalisation == "sigmoid" else tf.nn.softmax
            )
            probabilities = normalise_scores(logits)
            class_ids = self._class_ids(probabilities, targets)
            explained = probabilities if self.score == "probability" else logits
            chosen = tf.gather(explained, class_ids, batch_dims=1)
            per_target = [chosen[:, k] for k in range(num_targets)]
        features = tf.cast(activations, tf.float32)
        maps = []
        for k in range(num_targets):
            gradients = None
            if self.method.uses_gradients:
                gradients = tf.cast(tape.gradient(per_target[k], activations), tf.float32)
            weights = self.method.channel_weights(features, gradients, class_ids[:, k])
            maps.append(normalise(tf.reduce_mean(features * weights[:, None, None, :], axis=-1)))
        del tape
        return tf.stack(maps, axis=1), probabilities, class_ids
