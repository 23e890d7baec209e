"""Where the model runs: TensorFlow, or OpenVINO below (and where it can, after)
the CAM layer, one :class:`Runtime` each in the table :data:`RUNTIMES`.

The engine asks a *backbone* for a batch's CAM-layer activations; it does not
know which runtime answered. ``tensorflow`` is the engine's own compiled step
(no backbone object: the forward pass stays inside it). ``openvino`` converts
the model from its input to the CAM layer once, caches the conversion on disk
and runs it with OpenVINO's CPU kernels. Where the head is a dense chain
(:mod:`livecam.runtime.dense_head`) and the method needs only the gradient of
a class's logit, the head and that gradient run there too (and Grad-CAM's
maps); otherwise the head and every gradient stay in the compiled TensorFlow
step. Score-CAM's masked inputs go through the whole model on the runtime,
Ablation-CAM's ablated activations through a heavy head (:func:`head_scorer`).
``auto`` is chosen by measuring (:mod:`livecam.tuning.runtime_choice`), and
faster precisions pass the fidelity gate (:mod:`livecam.tuning.fidelity`)
before the governor uses them: this package only runs models.

A new runtime is one module with a class of the :class:`Runtime` protocol and
one line in :data:`RUNTIMES` (or :func:`register_runtime`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from livecam.errors import RuntimeChoiceError
from livecam.runtime.openvino_runtime import OpenVinoRuntime
from livecam.runtime.tensorflow_runtime import TensorFlowRuntime

if TYPE_CHECKING:
    from livecam.models import LoadedModel

AUTO = "auto"  # not a runtime: the one measured faster here (livecam.tuning)


class Backbone(Protocol):
    """The model from its input to the CAM layers, run outside TensorFlow; with
    ``head``, the head after them and its gradients too; with ``mean`` as well,
    Grad-CAM's maps."""

    head: bool
    mean: bool

    def __call__(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict:
        """RGB uint8 ``[batch, H, W, 3]`` (and with ``head``, the target codes)
        -> float32 ``layer_0``, ``layer_1``... : each CAM layer's activations;
        with ``head``, also ``logits``, ``class_ids`` ``[batch, targets]`` and
        ``gradients``: d(logit)/d(activations) ``[batch, targets, ...]``; with
        ``mean``, their mean over the grid ``[batch, targets, 1, 1, channels]``,
        ``maps`` (Grad-CAM's, normalised) and ``probabilities``."""


class Runtime(Protocol):
    """One place a model can run.

    Attributes:
        name: What ``--runtime`` calls it.
        in_step: The forward pass stays in the engine's compiled TensorFlow
            step (no backbone): the reference every other runtime is compared with.
    """

    name: str
    in_step: bool

    def unavailable(self, precision: str) -> str | None:
        """Why it cannot run ``precision`` here (what to install), or None."""

    def faster_precisions(self) -> list[str]:
        """What may run faster than float32 on it here (each still to pass the gate)."""

    def has_bfloat16(self) -> bool:
        """Whether it can run ``mixed_bfloat16`` here."""

    def refused(self, needs: dict[str, bool]) -> str | None:
        """The first of a method's needs (``{"what": needed}``) it cannot serve, or None."""

    def backbone(self, model: LoadedModel, head: bool, mean: bool) -> Backbone | None:
        """The model up to its CAM layers on this runtime (None: in the step)."""

    def scorer(self, model: LoadedModel, after: str | None):
        """The whole model, or the layers after ``after``, as ``inputs -> outputs`` (or None)."""

    def runs_head(self, model: LoadedModel) -> bool:
        """Whether it also runs ``model``'s head and its gradient."""

    def version(self) -> str:
        """The library behind it and its version."""


RUNTIMES: dict[str, Runtime] = {
    "tensorflow": TensorFlowRuntime(),
    "openvino": OpenVinoRuntime(),
}
REFERENCE = "tensorflow"  # the runtime of the reference maps (the fidelity gate's float32)
HEAVY_HEAD = 100  # head weights per CAM activation value from which its passes pay off here


def register_runtime(runtime: Runtime) -> Runtime:
    """Add ``runtime`` to :data:`RUNTIMES` (a plug-in's one registration)."""
    RUNTIMES[runtime.name] = runtime
    return runtime


def names(with_auto: bool = True) -> tuple[str, ...]:
    """Every ``--runtime`` choice."""
    return ((AUTO,) if with_auto else ()) + tuple(RUNTIMES)


def get(name: str) -> Runtime:
    """The runtime called ``name``.

    Raises:
        RuntimeChoiceError: No runtime of that name (``auto`` is chosen before, not run).
    """
    if is_auto(name):
        raise RuntimeChoiceError(
            "runtime 'auto' is chosen by measuring when the model loads "
            "(livecam.load_model(..., runtime='auto')), not run as such"
        )
    try:
        return RUNTIMES[name]
    except KeyError:
        raise RuntimeChoiceError(
            f"unknown runtime {name!r}; choose one of {', '.join(names())}"
        ) from None


def is_auto(name: str) -> bool:
    return name == AUTO


def is_reference(name: str) -> bool:
    """Whether ``name`` is the runtime the others are compared with."""
    return get(name).in_step


def check_runtime(runtime: str, precision: str = "float32") -> str:
    """``runtime`` if it is known and can run here (and ``precision`` on it);
    ``auto`` if some runtime can run ``precision``.

    Raises:
        RuntimeChoiceError: An unknown runtime, one not installed, or a
            precision it cannot run (``int8`` on TensorFlow).
    """
    if is_auto(runtime):
        reasons = [r.unavailable(precision) for r in RUNTIMES.values()]
        if all(reasons):
            raise RuntimeChoiceError(reasons[-1])
        return runtime
    reason = get(runtime).unavailable(precision)
    if reason:
        raise RuntimeChoiceError(reason)
    return runtime


def faster_precisions(runtime: str) -> list[str]:
    """What may run faster than float32 on ``runtime`` here (each still to pass
    the fidelity gate, :mod:`livecam.tuning.fidelity`)."""
    return get(runtime).faster_precisions()


def has_bfloat16(runtime: str) -> bool:
    """Whether ``runtime`` can run ``mixed_bfloat16`` here (TensorFlow always can,
    slowly without the instructions; OpenVINO only where the CPU has them)."""
    return get(runtime).has_bfloat16()


def check_needs(model: LoadedModel, method: str, needs: dict[str, bool]) -> None:
    """Refuse a method whose needs ``model``'s runtime cannot serve.

    Raises:
        RuntimeChoiceError: Naming the method, the need and the runtime.
    """
    what = get(model.runtime).refused(needs)
    if what:
        raise RuntimeChoiceError(
            f"method {method!r} with {what} runs on --runtime {REFERENCE} "
            f"only, not {model.runtime!r}"
        )


def negotiate(
    model: LoadedModel, method, *, logit: bool, aug_smooth: bool, eigen_smooth: bool
) -> Backbone | None:
    """What ``model``'s runtime computes for ``method`` (a
    :class:`~livecam.cam.CamMethod`, read by its flags): the CAM layer's
    activations; with the head too where the method differentiates a class's
    own ``logit`` and needs nothing else of the head (no extra head passes, no
    second derivative); and Grad-CAM's maps where they need only the gradient's
    mean over the grid (not with ``eigen_smooth``: an SVD).

    Raises:
        RuntimeChoiceError: The runtime is unknown or not installed, cannot run
            the model's precision, or cannot serve one of the method's needs.
    """
    check_runtime(model.runtime, model.precision)  # a model loaded without livecam.load_model
    needs = {
        "the gradient at the input": method.uses_input_gradients,
        "noisy copies of the input": bool(method.noise_samples),
        "--aug-smooth": aug_smooth,
        "several layers": len(model.cam_layers) > 1,
    }
    check_needs(model, method.name, needs)
    head = (
        logit
        and not (method.needs_head or method.uses_hessian or method.gradient_layers())
        and runs_head(model)
    )
    return backbone(model, head, head and method.uses_mean_gradient and not eigen_smooth)


def backbone(model: LoadedModel, head: bool = False, mean: bool = False) -> Backbone | None:
    """The backbone ``model`` runs on, converted once per model variant; None
    when the forward pass stays in the engine's step (TensorFlow).
    With ``head`` (see :func:`runs_head`), it also runs the head and its gradient
    (with ``mean``, only the gradient's mean over the grid)."""
    return get(model.runtime).backbone(model, head, mean)


def scorer(model: LoadedModel, after: str | None = None):
    """The whole model, preprocessed inputs -> outputs, on the runtime (for
    Score-CAM's batches of masked inputs), or with ``after`` the layers after
    that one (for Ablation-CAM's ablated activations); None on TensorFlow."""
    return get(model.runtime).scorer(model, after)


def head_scorer(model: LoadedModel, head):
    """``head``, the Keras model of the layers after the CAM layer, on the
    runtime, for Ablation-CAM's ablated activations, where that pays: at least
    :data:`HEAVY_HEAD` weights per activation value it reads (VGG16's dense
    head: 4,900, 1.2-1.4x faster on OpenVINO). A light head (lite0's pooling
    and one dense layer: 20) stays in the TensorFlow step, where copying the
    ablated activations out would cost more than its passes (0.7x). None on
    TensorFlow."""
    import math

    if get(model.runtime).in_step:
        return None
    values = math.prod(_cam_layer_shape(model))
    return scorer(model, model.cam_layer) if head.count_params() >= HEAVY_HEAD * values else None


def _cam_layer_shape(model: LoadedModel) -> tuple[int, ...]:
    """The CAM layer's output shape for one image at the model's input size
    (a model with free input sizes has none of its own)."""
    import keras

    from livecam.models import graph

    upto = keras.Model(model.model.inputs, model.model.get_layer(model.cam_layer).output)
    return tuple(graph.output_shapes_at(upto, model.input_size)[0][1:])


def runs_head(model: LoadedModel) -> bool:
    """Whether the runtime can run ``model``'s head and its gradient too: a
    kind whose logits a dense head gives (classifier, multi-label), a head that
    is a dense chain (:mod:`livecam.runtime.dense_head`), explained at one layer."""
    if len(model.cam_layers) > 1 or not model.objective.runs_on_dense_head:
        return False
    return get(model.runtime).runs_head(model)


def model_digest(model: LoadedModel) -> str:
    """What the model computes, as a hex digest: its architecture (the whole
    configuration, layer names aside: :func:`livecam.models.graph.architecture`),
    its weights' bytes and its preprocessing of a fixed ramp image (a function's
    name would not tell two lambdas apart). Computed once per model variant."""
    if "digest" not in model.cache:
        import hashlib

        import tensorflow as tf

        from livecam.models import graph

        digest = hashlib.sha256(graph.architecture(model.model).encode())
        for weights in model.model.get_weights():
            digest.update(np.ascontiguousarray(weights).tobytes())
        height, width = model.input_size
        ramp = np.linspace(0.0, 255.0, height * width * 3, dtype=np.float32)
        preprocessed = model.preprocess(tf.constant(ramp.reshape(1, height, width, 3)))
        digest.update(np.asarray(preprocessed, np.float32).tobytes())
        model.cache["digest"] = digest.hexdigest()
    return model.cache["digest"]


def runtime_version(runtime: str) -> str:
    """The library behind ``runtime`` and its version."""
    return get(runtime).version()
