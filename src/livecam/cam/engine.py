"""The compiled CAM step: forward pass, gradient tape and map, one ``tf.function``.

The step is traced once per number of targets: its input signature fixes the
image size and leaves the batch free, so a whole video is a single trace.
Every method runs inside it, batched, including the extra forward passes of
Score-CAM and the head passes of Ablation-CAM, and so do the smoothing options.
With ``--layer A,B,C`` each layer gets its map and the maps are averaged. With
another runtime (:mod:`livecam.runtime`), the layers up to the CAM layer run
there and the step starts from their activations: only the head runs here.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from livecam import runtime
from livecam.cam import smoothing
from livecam.cam.base import (
    CamInputs,
    CamMethod,
    ScoreFunction,
    first_component,
)
from livecam.cam.output import CamOutput
from livecam.cam.registry import SCORES, make_method
from livecam.cam.targets import Target, encode, top
from livecam.errors import MethodError
from livecam.models import LoadedModel, graph
from livecam.runtime import Backbone
from livecam.tensors import combine_layers, normalise, ranked_class_ids


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
        self.score = score
        self.objective = model.objective
        self.eigen_smooth = eigen_smooth
        self.aug_smooth = aug_smooth
        self._layers = [
            self._explained_layer(name, method, max_channels) for name in model.cam_layers
        ]
        self._gradient_layers = self.method.gradient_layers()
        if self._gradient_layers and len(self._layers) > 1:
            raise MethodError(
                f"method {self.method.name!r} chooses its own layers "
                f"({len(self._gradient_layers)} here), so it takes no list of layers "
                f"(got {', '.join(model.cam_layers)})"
            )
        self._feature_names = list(dict.fromkeys([*model.cam_layers, *self._gradient_layers]))
        self._feature_model = graph.features_and_output_model(model.model, self._feature_names)
        self._backbone = self._runtime_backbone()
        # Score-CAM's masked inputs through the whole model, on the runtime too
        self._scorer = runtime.scorer(model) if self.method.scores_inputs else None
        # and Ablation-CAM's ablated activations through the layers after the CAM
        # layer (one layer: the runtime refuses several)
        head = self._layers[0].head if self.method.needs_head else None
        self._head_scorer = runtime.head_scorer(model, head) if head is not None else None
        self._steps: dict[int, tf.types.experimental.GenericFunction] = {}
        self.trace_count = 0

    def _runtime_backbone(self) -> Backbone | None:
        """The runtime that computes the CAM layer's activations outside this step
        (:func:`livecam.runtime.negotiate`), with the head kept here for the gradients."""
        if runtime.get(self.model.runtime).in_step:
            return None
        if self._layers[0].head is None:
            layer = self._layers[0]
            self._layers[0] = _Layer(layer.name, layer.method, self._head_model(layer.name))
        method = self.method
        own_logit = type(method).explained is CamMethod.explained  # not FinerCAM's contrast
        return runtime.negotiate(
            self.model,
            method,
            logit=self.score == "logit" and own_logit,
            aug_smooth=self.aug_smooth,
            eigen_smooth=self.eigen_smooth,
        )

    def _explained_layer(self, name: str, method: str, max_channels: int | None) -> _Layer:
        """One explained layer: the method prepared for it, and its head if the method runs it."""
        own = self.method if name == self.model.cam_layer else make_method(method, max_channels)
        own.prepare(self.model.model, name)
        return _Layer(name, own, self._head_model(name) if own.needs_head else None)

    def _head_model(self, name: str):
        """The layers after the CAM layer ``name`` as a model of their own."""
        import keras

        try:
            layer = self.model.model.get_layer(name)
            return keras.Model(layer.output, self.model.model.output)
        except (ValueError, KeyError) as exc:
            who = (
                f"method {self.method.name!r}"
                if runtime.get(self.model.runtime).in_step
                else f"runtime {self.model.runtime!r}"
            )
            raise MethodError(
                f"{who} runs the layers after {name!r} alone, which model "
                f"{self.model.name!r} does not allow: {exc}"
            ) from None

    @property
    def input_size(self) -> tuple[int, int]:
        return self.model.input_size

    def traced(self, num_targets: int) -> bool:
        """Whether the step for ``num_targets`` targets exists (was called once),
        or there is none to trace (Grad-CAM's maps come from the runtime)."""
        return num_targets in self._steps or getattr(self._backbone, "mean", False)

    def __call__(self, images: np.ndarray, targets: Sequence[Target] | None = None) -> CamOutput:
        """Run the compiled step.

        Args:
            images: RGB uint8 ``[batch, height, width, 3]`` at :attr:`input_size`.
            targets: What each map explains; default the top-1 class.
        """
        codes = encode(targets or top(1), self.model.num_classes)
        if self._backbone is None:
            result = self._step(len(codes))(images, codes)
            return CamOutput(**{key: value.numpy() for key, value in result.items()})
        given = self._backbone(images, codes)
        if self._backbone.mean:  # Grad-CAM's maps came with the runtime's answer
            return CamOutput(given["maps"], given["probabilities"], given["class_ids"])
        names = ["logits", "class_ids", "gradients"] if self._backbone.head else []
        computed = [given["layer_0"]] + [given[name] for name in names]
        result = self._step(len(codes))(images, codes, *computed)
        return CamOutput(**{key: value.numpy() for key, value in result.items()})

    def _step(self, num_targets: int):
        if num_targets not in self._steps:
            height, width = self.input_size
            signature = [
                tf.TensorSpec([None, height, width, 3], tf.uint8, name="images"),
                tf.TensorSpec([num_targets], tf.int32, name="targets"),
            ]
            if self._backbone is not None:  # the CAM layer's activations, from the runtime
                shape = graph.output_shapes_at(self._feature_model, self.input_size)[0]
                signature.append(tf.TensorSpec(shape, tf.float32, name="activations"))
                if self._backbone.head:  # and the head's results
                    classes = self._feature_model.outputs[-1].shape[-1]
                    signature += [
                        tf.TensorSpec([None, classes], tf.float32, name="logits"),
                        tf.TensorSpec([None, num_targets], tf.int32, name="class_ids"),
                        tf.TensorSpec(
                            [None, num_targets, *shape[1:]],
                            tf.float32,
                            name="gradients",
                        ),
                    ]
            self._steps[num_targets] = tf.function(self._compute, input_signature=signature)
        return self._steps[num_targets]

    def _explained(self, outputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        """The explained score (see :mod:`livecam.kinds`) of each row's class."""
        scores = self.objective.scores(tf.cast(outputs, tf.float32), self.score)
        return self.method.explained(scores, class_ids)

    def _score(self, inputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        if self._scorer is None:
            return self._explained(self.model.model(inputs, training=False), class_ids)
        outputs = tf.numpy_function(self._scorer, [inputs], tf.float32, stateful=False)
        outputs.set_shape(self._feature_model.outputs[-1].shape)
        return self._explained(outputs, class_ids)

    def _head_score(self, layer: _Layer, activations: tf.Tensor) -> ScoreFunction | None:
        """Scores other activations of ``layer`` through its head, grids for a token layer."""
        if layer.head is None:
            return None

        def score(maps: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
            if activations.shape.rank == 3:  # ablated grids back to tokens
                maps = self.model.token_grid.to_tokens(maps, activations)
            return self._explained(self._head_outputs(layer, maps), class_ids)

        return score

    def _head_outputs(self, layer: _Layer, activations: tf.Tensor) -> tf.Tensor:
        if self._head_scorer is None:
            return layer.head(activations, training=False)
        given = tf.cast(activations, tf.float32)
        outputs = tf.numpy_function(self._head_scorer, [given], tf.float32, stateful=False)
        outputs.set_shape(self._feature_model.outputs[-1].shape)
        return outputs

    def _compute(self, images: tf.Tensor, targets: tf.Tensor, *runtime_outputs: tf.Tensor):
        """The step; ``runtime_outputs`` are the backbone's: the CAM layer's
        activations, and with the head on the runtime, its results too."""
        self.trace_count += 1  # runs only while tracing
        if len(runtime_outputs) > 1:
            return self._maps_of_given(images, targets, *runtime_outputs)
        given = runtime_outputs[0] if runtime_outputs else None
        num_targets = targets.shape[0]
        inputs = self.model.preprocess(tf.cast(images, tf.float32))
        batch = tf.shape(inputs)[0]
        clean = smoothing.augmented(inputs, self.aug_smooth)
        stacked = smoothing.with_noise(clean, self.method)
        repeats = smoothing.copies(self.aug_smooth) * (1 + self.method.noise_samples)
        method = self.method
        # second order (ShapleyCAM): an outer tape records the first backward pass
        with tf.GradientTape(persistent=True) if method.uses_hessian else nullcontext() as outer:
            with tf.GradientTape(persistent=True) as tape:
                if method.uses_input_gradients:
                    tape.watch(stacked)
                if given is None:
                    *features, outputs = self._feature_model(stacked, training=False)
                else:  # the runtime's activations, through the head
                    tape.watch(given)
                    if outer is not None:
                        outer.watch(given)
                    features, outputs = [given], self._layers[0].head(given, training=False)
                outputs = tf.cast(outputs, tf.float32)
                probabilities = self.objective.probabilities(outputs)[:batch]
                class_ids = ranked_class_ids(probabilities, targets)  # from the originals
                every_row = tf.tile(class_ids, [repeats, 1])
                chosen = self._explained(outputs, every_row)
                per_target = [chosen[:, k] for k in range(num_targets)]  # sliced on the tape
            sources = features + ([stacked] if method.uses_input_gradients else [])
            # d(score)/d(each source); None for a source the score does not depend on
            gradients = [
                tape.gradient(per_target[k], sources) if method.uses_gradients else None
                for k in range(num_targets)
            ]
        forward = _Forward(
            dict(zip(self._feature_names, features, strict=True)),
            stacked,
            tf.shape(clean)[0],
            every_row,
            outer,
        )
        maps = []
        for k in range(num_targets):
            by_name = dict(zip(self._feature_names, gradients[k] or [], strict=False))
            inputs_gradients = gradients[k][-1] if method.uses_input_gradients else None
            layer_maps = [
                smoothing.merged(
                    self._layer_map(layer, forward, k, by_name, inputs_gradients), self.aug_smooth
                )
                for layer in self._layers
            ]
            maps.append(combine_layers(layer_maps))
        del tape, outer
        return self._result(maps, probabilities, class_ids, outputs[:batch])

    def _maps_of_given(self, images, targets, activations, logits, class_ids, gradients):
        """The maps from what the runtime computed: activations, logits, the
        explained classes and the gradients of their logits (one layer, no
        augmented or noisy copies: the runtime is refused those)."""
        inputs = self.model.preprocess(tf.cast(images, tf.float32))
        forward = _Forward(
            {self._layers[0].name: activations}, inputs, tf.shape(inputs)[0], class_ids, None
        )
        layer = self._layers[0]
        maps = [
            self._layer_map(layer, forward, k, {layer.name: gradients[:, k]}, None)
            for k in range(targets.shape[0])
        ]
        return self._result(maps, self.objective.probabilities(logits), class_ids, logits)

    def _result(self, maps, probabilities, class_ids, outputs) -> dict[str, tf.Tensor]:
        result = {
            "maps": tf.stack(maps, axis=1),
            "probabilities": probabilities,
            "class_ids": class_ids,
        }
        if self.objective.has_masks:
            result["masks"] = self.objective.masks(outputs, class_ids)
        return result

    def _layer_map(
        self,
        layer: _Layer,
        forward: _Forward,
        k: int,
        gradients: dict[str, tf.Tensor],
        input_gradients: tf.Tensor | None,
    ) -> tf.Tensor:
        """Target ``k``'s normalised map of one layer, for every clean row."""
        rows, method = forward.rows, layer.method
        activations = forward.features[layer.name]
        cam_gradients = noisy = hessian_product = None
        if method.uses_gradients:
            if gradients[layer.name] is None:
                raise MethodError(
                    f"the explained score does not depend on layer {layer.name!r}: "
                    f"choose a layer on the path to the model's output"
                )
            every = self._as_map(gradients[layer.name])
            cam_gradients = every[:rows]
            if method.noise_samples:
                noisy = tf.reshape(
                    every[rows:], tf.concat([[method.noise_samples, rows], tf.shape(every)[1:]], 0)
                )
        if method.uses_hessian:  # H·A, A held constant
            vector = tf.stop_gradient(activations)
            product = forward.outer.gradient(
                gradients[layer.name], activations, output_gradients=vector
            )
            hessian_product = self._as_map(
                product if product is not None else tf.zeros_like(activations)
            )[:rows]
        cam_inputs = CamInputs(
            activations=self._as_map(activations)[:rows],
            gradients=cam_gradients,
            class_ids=forward.every_row[:rows, k],
            images=forward.stacked[:rows],
            score=self._score,
            head_score=self._head_score(layer, activations),
            hessian_product=hessian_product,
            noisy_gradients=noisy,
            input_gradients=None if input_gradients is None else input_gradients[:rows],
            layer_gradients=tuple(
                tf.zeros_like(forward.features[name][:rows], tf.float32)
                if gradients[name] is None  # a branch that does not reach the output
                else tf.cast(gradients[name][:rows], tf.float32)
                for name in self._gradient_layers
            ),
        )
        weighted = method.weighted(cam_inputs)
        if method.projects or self.eigen_smooth:
            return normalise(first_component(weighted))
        return normalise(tf.reduce_sum(weighted, axis=-1))

    def _as_map(self, activations: tf.Tensor) -> tf.Tensor:
        """float32 ``[batch, h, w, channels]``: token layers go through their grid."""
        if activations.shape.rank == 3:
            activations = self.model.token_grid.to_map(activations)
        return tf.cast(activations, tf.float32)


@dataclass(frozen=True)
class _Layer:
    """One explained layer: its name, the method prepared for it, its head model."""

    name: str
    method: CamMethod
    head: object | None


@dataclass(frozen=True)
class _Forward:
    """What the forward pass left for the maps: every named layer's output, the
    model inputs (clean rows first), how many rows are clean, each row's classes
    and the outer tape of a second-order method."""

    features: dict[str, tf.Tensor]
    stacked: tf.Tensor
    rows: tf.Tensor
    every_row: tf.Tensor
    outer: tf.GradientTape | None
