"""The shared base of every CAM method.

A method turns what the engine computed (the CAM layer's activations, the
gradients of the explained score, and ways to score other inputs) into
*weighted activations* ``[batch, h, w, channels]``; the engine sums them over
the channels (or, with eigen-smooth, projects them on their first principal
component), applies the ReLU and normalises. Most methods only weight
channels: they override :meth:`CamMethod.channel_weights`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import tensorflow as tf

# (inputs, class ids) -> the explained score of each input, [n]
ScoreFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class CamInputs:
    """What a method may use, all float32 and batched.

    Attributes:
        activations: The CAM layer's output ``[batch, h, w, channels]``.
        gradients: d(explained score)/d(activations), or None for methods
            that need none.
        class_ids: The class each map explains, ``[batch]`` int32.
        images: The preprocessed model input ``[batch, H, W, 3]``.
        score: Scores other model inputs: ``score(inputs, class_ids)``.
        head_score: Scores other activations by running only the layers after
            the CAM layer, or None where the model cannot be split there.
        hessian_product: For methods with ``uses_hessian``: the Hessian of the
            explained score with respect to the activations, times the
            activations; else None.
        noisy_gradients: For methods with ``noise_samples``: the gradients at
            the activations of noisy copies of the input,
            ``[samples, batch, h, w, channels]``; else None.
        input_gradients: For methods with ``uses_input_gradients``:
            d(explained score)/d(images); else None.
        layer_gradients: d(explained score)/d(output) of each layer the
            method's :meth:`CamMethod.gradient_layers` named, in that order.
    """

    activations: tf.Tensor
    gradients: tf.Tensor | None
    class_ids: tf.Tensor
    images: tf.Tensor
    score: ScoreFunction
    head_score: ScoreFunction | None
    hessian_product: tf.Tensor | None = None
    noisy_gradients: tf.Tensor | None = None
    input_gradients: tf.Tensor | None = None
    layer_gradients: tuple[tf.Tensor, ...] = ()


@dataclass(frozen=True)
class Needs:
    """What a method needs the engine (and a runtime) to compute, in one value.

    Attributes:
        gradients: The backward pass (False: Eigen-CAM, Score-CAM, ...).
        logit_only: Refuses the probability score, saying why (``logit_reason``).
        projects: Always the first principal component (Eigen-CAM).
        head: Runs the layers after the CAM layer alone (Ablation-CAM).
        hessian: A second backward pass: a Hessian-vector product (ShapleyCAM).
        input_gradients: The gradient reaches the input (FullGrad).
        mean_gradient: The map depends on the gradient only through its mean
            over the grid (Grad-CAM: a runtime may compute it).
        scores_inputs: Runs the whole model on altered inputs (Score-CAM).
        noise_samples: SmoothGrad-style noisy copies of the input, each with its gradients.
        noise_level: The noise's standard deviation over the input's range.
    """

    gradients: bool = True
    logit_only: bool = False
    logit_reason: str = ""
    projects: bool = False
    head: bool = False
    hessian: bool = False
    input_gradients: bool = False
    mean_gradient: bool = False
    scores_inputs: bool = False
    noise_samples: int = 0
    noise_level: float = 0.0


class _Need:
    """``method.uses_gradients`` and the like: one field of the class's ``needs``
    (read on the class or an instance alike)."""

    def __init__(self, field_name: str) -> None:
        self.field_name = field_name

    def __get__(self, instance, owner):
        return getattr(owner.needs, self.field_name)


class CamMethod:
    """One way of weighting the CAM layer's activations.

    Subclasses set ``name``, ``paper`` and, where they need more or less than
    the gradient, ``needs`` (:class:`Needs`), and override :meth:`channel_weights`
    (one weight per channel) or, for per-pixel methods, :meth:`weighted`.
    """

    name: ClassVar[str]
    paper: ClassVar[str]
    needs: ClassVar[Needs] = Needs()
    uses_gradients = _Need("gradients")
    logit_only = _Need("logit_only")
    logit_reason = _Need("logit_reason")
    projects = _Need("projects")
    needs_head = _Need("head")
    uses_hessian = _Need("hessian")
    uses_input_gradients = _Need("input_gradients")
    uses_mean_gradient = _Need("mean_gradient")
    scores_inputs = _Need("scores_inputs")
    noise_samples = _Need("noise_samples")
    noise_level = _Need("noise_level")

    def prepare(self, model, cam_layer: str) -> None:
        """Check the model suits the method and read what it needs from it."""

    def gradient_layers(self) -> list[str]:
        """Layers (besides the CAM layer) whose output gradients the method
        reads, as :attr:`CamInputs.layer_gradients`; read after :meth:`prepare`."""
        return []

    def explained(self, scores: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        """The score each map explains: the class's own score (``scores``
        ``[batch, classes]``, ``class_ids`` ``[batch]`` or ``[batch, targets]``);
        FinerCAM contrasts it with other classes'."""
        return tf.gather(scores, class_ids, batch_dims=1)

    def channel_weights(self, inputs: CamInputs) -> tf.Tensor:
        """One weight per channel, ``[batch, channels]``."""
        raise NotImplementedError

    def weighted(self, inputs: CamInputs) -> tf.Tensor:
        """Weighted activations ``[batch, h, w, k]``, summed over ``k`` for the map."""
        weights = self.channel_weights(inputs)
        return inputs.activations * weights[:, None, None, :]


def first_component(weighted: tf.Tensor) -> tf.Tensor:
    """Each image's weighted activations projected on their first principal
    component: ``[batch, h, w, k]`` -> ``[batch, h, w]``.

    The positions are centred, then projected on the first right singular
    vector. An SVD's sign is arbitrary, so it is fixed: the projection must
    correlate positively with the plain channel sum (where the activation mass
    is), never an inverted map.
    """
    shape = tf.shape(weighted)
    flat = tf.reshape(weighted, [shape[0], shape[1] * shape[2], shape[3]])
    centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    _, _, v = tf.linalg.svd(centred)
    projection = tf.linalg.matvec(centred, v[:, :, 0])  # [batch, hw]
    mass = tf.reduce_sum(flat, axis=2)
    agreement = tf.reduce_sum(projection * (mass - tf.reduce_mean(mass, 1, keepdims=True)), 1)
    sign = tf.where(agreement < 0.0, -1.0, 1.0)
    return tf.reshape(projection * sign[:, None], shape[:3])


NOISE_SEED = (0, 1908)


def noise_pattern(samples: int, shape) -> tf.Tensor:
    """Standard normal noise ``[samples, 1, *shape]``, the same at every call and
    for every image of a batch, so a map does not depend on its batch."""
    return tf.random.stateless_normal([samples, 1, *shape], seed=NOISE_SEED)
