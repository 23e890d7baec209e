"""The compiled CAM step: forward pass, gradient tape and map, one ``tf.function``.

The step is traced once per number of targets: its input signature fixes the
image size and leaves the batch free, so a whole video is a single trace.
Every method runs inside it, batched, including the extra forward passes of
Score-CAM and the head passes of Ablation-CAM, and so do the smoothing options.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from livecam.cam.ablationcam import AblationCam
from livecam.cam.base import CamInputs, CamMethod, first_component
from livecam.cam.class_activation import ClassActivationMap
from livecam.cam.eigencam import EigenCam, EigenGradCam
from livecam.cam.fem import Fem
from livecam.cam.finercam import FinerCam
from livecam.cam.gradcam import GradCam
from livecam.cam.gradcam_elementwise import GradCamElementwise
from livecam.cam.gradcam_plus_plus import GradCamPlusPlus
from livecam.cam.hirescam import HiResCam
from livecam.cam.kpcacam import KpcaCam
from livecam.cam.layercam import LayerCam
from livecam.cam.randomcam import RandomCam
from livecam.cam.scorecam import ScoreCam
from livecam.cam.shapleycam import ShapleyCam
from livecam.cam.targets import Target, encode, top
from livecam.cam.xgradcam import XGradCam
from livecam.errors import MethodError
from livecam.models import graph

if TYPE_CHECKING:  # livecam.models imports this package's objectives and reshape
    from livecam.models import LoadedModel

METHODS: dict[str, type[CamMethod]] = {
    method.name: method
    for method in (
        GradCam,
        GradCamPlusPlus,
        ClassActivationMap,
        HiResCam,
        GradCamElementwise,
        XGradCam,
        LayerCam,
        EigenCam,
        EigenGradCam,
        ScoreCam,
        AblationCam,
        Fem,
        FinerCam,
        KpcaCam,
        RandomCam,
        ShapleyCam,
    )
}
SCORES = ("logit", "probability")
# Test-time augmentation of --aug-smooth, as in pytorch-grad-cam (ttach):
# horizontal flip x intensity factors. The original comes first.
AUGMENTATIONS = tuple((flip, factor) for flip in (False, True) for factor in (1.0, 0.9, 1.1))


def make_method(name: str, max_channels: int | None = None) -> CamMethod:
    """A CAM method by name (see :data:`METHODS`).

    Args:
        name: The method's name, e.g. ``gradcam`` or ``scorecam``.
        max_channels: For ``scorecam``: score only the channels with the
            highest mean activation.
    """
    try:
        method = METHODS[name.lower()]()
    except KeyError:
        raise MethodError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
    if max_channels is not None:
        if not hasattr(method, "max_channels"):
            raise MethodError(f"--max-channels applies to scorecam, not {method.name!r}")
        if max_channels < 1:
            raise MethodError(f"--max-channels must be at least 1, got {max_channels}")
        method.max_channels = max_channels
    return method


@dataclass
class CamOutput:
    """What one call of the step returns, as numpy arrays.

    Attributes:
        maps: ``[batch, targets, h, w]`` float32 in [0, 1] at the CAM layer's resolution.
        probabilities: ``[batch, classes]`` float32.
        class_ids: ``[batch, targets]`` int32, the class each map explains.
        masks: For segmentation models, ``[batch, targets, H, W]`` uint8: the
            pixels predicted as each explained class; else None.
    """

    maps: np.ndarray
    probabilities: np.ndarray
    class_ids: np.ndarray
    masks: np.ndarray | None = None


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

    def __init__(
        self,
        model: LoadedModel,
        method: str = "gradcam",
        score: str = "logit",
        *,
        eigen_smooth: bool = False,
        aug_smooth: bool = False,
        max_channels: int | None = None,
    ) -> None:
        if score not in SCORES:
            raise MethodError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")
        self.model = model
        self.method = make_method(method, max_channels)
        if self.method.logit_only and score != "logit":
            raise MethodError(
                f"method {self.method.name!r} {self.method.logit_reason}: it needs score "
                f"'logit', not {score!r}"
            )
        self.method.prepare(model.model, model.cam_layer)
        self.score = score
        self.objective = model.objective
        self.eigen_smooth = eigen_smooth
        self.aug_smooth = aug_smooth
        self._feature_model = graph.feature_and_output_model(model.model, model.cam_layer)
        self._head = self._head_model() if self.method.needs_head else None
        self._steps: dict[int, tf.types.experimental.GenericFunction] = {}
        self.trace_count = 0

    def _head_model(self):
        """The layers after the CAM layer as a model of their own."""
        import keras

        try:
            layer = self.model.model.get_layer(self.model.cam_layer)
            return keras.Model(layer.output, self.model.model.output)
        except (ValueError, KeyError) as exc:
            raise MethodError(
                f"method {self.method.name!r} runs the layers after {self.model.cam_layer!r} "
                f"alone, which model {self.model.name!r} does not allow: {exc}"
            ) from None

    @property
    def input_size(self) -> tuple[int, int]:
        return self.model.input_size

    def traced(self, num_targets: int) -> bool:
        """Whether the step for ``num_targets`` targets exists (was called once)."""
        return num_targets in self._steps

    def __call__(self, images: np.ndarray, targets: Sequence[Target] | None = None) -> CamOutput:
        """Run the compiled step.

        Args:
            images: RGB uint8 ``[batch, height, width, 3]`` at :attr:`input_size`.
            targets: What each map explains; default the top-1 class.
        """
        codes = encode(targets or top(1), self.model.num_classes)
        result = self._step(len(codes))(images, codes)
        return CamOutput(**{key: value.numpy() for key, value in result.items()})

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

    def _explained(self, outputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        """The explained score (see :mod:`livecam.cam.objectives`) of each row's class."""
        scores = self.objective.scores(tf.cast(outputs, tf.float32), self.score)
        return self.method.explained(scores, class_ids)

    def _score(self, inputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        return self._explained(self.model.model(inputs, training=False), class_ids)

    def _head_score(self, activations: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        return self._explained(self._head(activations, training=False), class_ids)

    def _token_head_score(self, tokens: tf.Tensor):
        """A head score taking grids, for methods that ablate a token layer."""
        grid = self.model.token_grid

        def score(maps: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
            return self._head_score(grid.to_tokens(maps, tokens), class_ids)

        return score

    def _augmented(self, inputs: tf.Tensor) -> tf.Tensor:
        if not self.aug_smooth:
            return inputs
        copies = [
            (tf.reverse(inputs, axis=[2]) if flip else inputs) * factor
            for flip, factor in AUGMENTATIONS
        ]
        return tf.concat(copies, axis=0)

    def _merged(self, maps: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
        """The augmented copies' maps mapped back (unflipped) and averaged."""
        if not self.aug_smooth:
            return maps
        parts = tf.split(maps, len(AUGMENTATIONS), axis=0)
        restored = [
            tf.reverse(part, axis=[2]) if flip else part
            for part, (flip, _) in zip(parts, AUGMENTATIONS, strict=True)
        ]
        return normalise(tf.reduce_mean(tf.stack(restored), axis=0))

    def _compute(self, images: tf.Tensor, targets: tf.Tensor):
        self.trace_count += 1  # runs only while tracing
        num_targets = targets.shape[0]
        inputs = self.model.preprocess(tf.cast(images, tf.float32))
        batch = tf.shape(inputs)[0]
        copies = len(AUGMENTATIONS) if self.aug_smooth else 1
        stacked = self._augmented(inputs)
        # second order (ShapleyCAM): an outer tape records the first backward pass
        second_order = self.method.uses_hessian
        with tf.GradientTape(persistent=True) if second_order else nullcontext() as outer:
            with tf.GradientTape(persistent=True) as tape:
                activations, outputs = self._feature_model(stacked, training=False)
                outputs = tf.cast(outputs, tf.float32)
                probabilities = self.objective.probabilities(outputs)[:batch]
                class_ids = self._class_ids(probabilities, targets)  # from the originals
                every_copy = tf.tile(class_ids, [copies, 1])
                chosen = self._explained(outputs, every_copy)
                per_target = [chosen[:, k] for k in range(num_targets)]
            raw_gradients = [
                tape.gradient(per_target[k], activations) if self.method.uses_gradients else None
                for k in range(num_targets)
            ]
        grid = self.model.token_grid
        features = self._as_map(activations)
        head_score = self._head_score if self._head is not None else None
        if grid is not None and head_score is not None:
            head_score = self._token_head_score(activations)
        maps = []
        for k in range(num_targets):
            gradients = hessian_product = None
            if self.method.uses_gradients:
                gradients = self._as_map(raw_gradients[k])
            if self.method.uses_hessian:  # H·A, A held constant
                vector = tf.stop_gradient(activations)
                product = outer.gradient(raw_gradients[k], activations, output_gradients=vector)
                hessian_product = self._as_map(
                    product if product is not None else tf.zeros_like(activations)
                )
            cam_inputs = CamInputs(
                features, gradients, every_copy[:, k], stacked, self._score, head_score,
                hessian_product,
            )  # fmt: skip
            weighted = self.method.weighted(cam_inputs)
            if self.method.projects or self.eigen_smooth:
                raw = first_component(weighted)
            else:
                raw = tf.reduce_sum(weighted, axis=-1)
            maps.append(self._merged(normalise(raw), batch))
        del tape, outer
        result = {
            "maps": tf.stack(maps, axis=1),
            "probabilities": probabilities,
            "class_ids": class_ids,
        }
        if self.objective.has_masks:
            result["masks"] = self.objective.masks(outputs[:batch], class_ids)
        return result

    def _as_map(self, activations: tf.Tensor) -> tf.Tensor:
        """float32 ``[batch, h, w, channels]``: token layers go through their grid."""
        grid = self.model.token_grid
        mapped = grid.to_map(activations) if grid is not None else activations
        return tf.cast(mapped, tf.float32)
