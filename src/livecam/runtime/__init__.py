"""Where the model runs: TensorFlow, or OpenVINO below (and where it can, after)
the CAM layer.

The engine asks a *backbone* for a batch's CAM-layer activations; it does not
know which runtime answered. ``tensorflow`` is the engine's own compiled step
(no backbone object: the forward pass stays inside it). ``openvino`` converts
the model from its input to the CAM layer once, caches the conversion on disk
and runs it with OpenVINO's CPU kernels. Where the head is a dense chain
(:mod:`livecam.runtime.dense_head`) and the method needs only the gradient of
a class's logit, the head and that gradient run there too (and Grad-CAM's
maps); otherwise the head and every gradient stay in the compiled TensorFlow
step. Score-CAM's masked inputs go through the whole model on the runtime,
Ablation-CAM's ablated activations through a heavy head
(:func:`head_scorer`). ``auto`` (:func:`choose`) measures both. Faster precisions pass the
fidelity gate (:mod:`livecam.runtime.fidelity`) before the governor uses them.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from livecam.errors import RuntimeChoiceError

if TYPE_CHECKING:
    from livecam.models import LoadedModel

RUNTIMES = ("auto", "tensorflow", "openvino")
AUTO_FRAMES = 8  # Grad-CAM steps timed on each runtime to choose one
HEAVY_HEAD = 100  # head weights per CAM activation value from which its passes pay off here


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


def check_runtime(runtime: str, precision: str = "float32") -> str:
    """``runtime`` if it is known and can run here (and ``precision`` on it).

    Raises:
        RuntimeChoiceError: An unknown runtime, OpenVINO is not installed, or
            ``int8`` asked of a runtime other than OpenVINO.
    """
    if runtime not in RUNTIMES:
        raise RuntimeChoiceError(
            f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}"
        )
    if precision == "int8" and runtime == "tensorflow":
        raise RuntimeChoiceError(
            "--precision int8 runs on --runtime openvino (quantized with NNCF), not tensorflow"
        )
    if (runtime == "openvino" or precision == "int8") and not has_openvino():
        raise RuntimeChoiceError(
            f"--runtime openvino{' (int8)' if precision == 'int8' else ''} needs OpenVINO, "
            "which is not installed: pip install 'livecam[openvino]'"
        )
    return runtime


def faster_precisions(runtime: str) -> list[str]:
    """What may run faster than float32 on ``runtime`` here (each still to pass
    the fidelity gate, :mod:`livecam.runtime.fidelity`)."""
    faster = ["mixed_bfloat16"] if has_bfloat16(runtime) else []
    if runtime == "openvino" and importlib.util.find_spec("nncf") is not None:
        faster.append("int8")
    return faster


def has_bfloat16(runtime: str) -> bool:
    """Whether ``runtime`` can run ``mixed_bfloat16`` here (TensorFlow always can,
    slowly without the instructions; OpenVINO only where the CPU has them)."""
    if runtime != "openvino":
        return True
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def backbone(model: LoadedModel, head: bool = False, mean: bool = False) -> Backbone | None:
    """The backbone ``model`` runs on, converted once per model variant; None
    when the runtime is TensorFlow (the forward pass stays in the engine's step).
    With ``head`` (see :func:`runs_head`), it also runs the head and its gradient
    (with ``mean``, only the gradient's mean over the grid)."""
    if model.runtime == "tensorflow":
        return None
    key = ("backbone", model.cam_layers, head, head and mean)
    if key not in model.cache:
        from livecam.runtime.openvino import OpenVinoBackbone

        model.cache[key] = OpenVinoBackbone(model, head=head, mean=mean)
    return model.cache[key]


def scorer(model: LoadedModel, after: str | None = None):
    """The whole model, preprocessed inputs -> outputs, on the runtime (for
    Score-CAM's batches of masked inputs), or with ``after`` the layers after
    that one (for Ablation-CAM's ablated activations); None on TensorFlow."""
    if model.runtime == "tensorflow":
        return None
    key = ("scorer", after)
    if key not in model.cache:
        from livecam.runtime.openvino import OpenVinoScorer

        model.cache[key] = OpenVinoScorer(model, after)
    return model.cache[key]


def head_scorer(model: LoadedModel, head):
    """``head``, the Keras model of the layers after the CAM layer, on the
    runtime, for Ablation-CAM's ablated activations, where that pays: at least
    :data:`HEAVY_HEAD` weights per activation value it reads (VGG16's dense
    head: 4,900, 1.2-1.4x faster on OpenVINO). A light head (lite0's pooling
    and one dense layer: 20) stays in the TensorFlow step, where copying the
    ablated activations out would cost more than its passes (0.7x). None on
    TensorFlow."""
    import math

    if model.runtime == "tensorflow":
        return None
    values = math.prod(head.inputs[0].shape[1:])
    return scorer(model, model.cam_layer) if head.count_params() >= HEAVY_HEAD * values else None


def runs_head(model: LoadedModel) -> bool:
    """Whether the runtime can run ``model``'s head and its gradient too: a
    classifier or multi-label model whose head is a dense chain
    (:mod:`livecam.runtime.dense_head`), explained at one layer."""
    if model.runtime == "tensorflow" or len(model.cam_layers) > 1:
        return False
    if model.objective.kind not in ("class", "label"):
        return False
    key = ("dense head", model.cam_layer)
    if key not in model.cache:
        from livecam.runtime import dense_head

        float32 = model.variant(precision="float32")  # what the runtime converts
        model.cache[key] = dense_head.head_layers(dense_head.head_model(float32)) is not None
    return model.cache[key]


def model_digest(model: LoadedModel) -> str:
    """What the model computes, as a hex digest: its weights' bytes and its
    preprocessing of a fixed ramp image (a function's name would not tell two
    lambdas apart). Computed once per model variant."""
    if "digest" not in model.cache:
        import hashlib

        import tensorflow as tf

        digest = hashlib.sha256()
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
    if runtime == "openvino":
        import openvino as ov

        return f"openvino {ov.get_version()}"
    import tensorflow as tf

    return f"tensorflow {tf.__version__}"


def has_openvino() -> bool:
    return importlib.util.find_spec("openvino") is not None


@dataclass(frozen=True)
class RuntimeChoice:
    """What ``--runtime auto`` chose and why.

    Attributes:
        runtime: ``tensorflow`` or ``openvino``.
        ms_per_map: The Grad-CAM step's median cost on each runtime measured
            (this run or an earlier one on this machine, from the cache).
        reason: Why OpenVINO was not measured, if it was not.
    """

    runtime: str
    ms_per_map: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def choose(model: LoadedModel, costs=None) -> RuntimeChoice:
    """``--runtime auto``: OpenVINO where it is installed, runs the model and its
    Grad-CAM step measured faster on this machine, else TensorFlow. The costs
    persist in the governor's cache (``costs``: a
    :class:`~livecam.video.governor.CostCache`), per machine, model, layers,
    precision and size, so the next start measures nothing."""
    if not has_openvino():
        return RuntimeChoice("tensorflow", reason="OpenVINO is not installed")
    if model.precision == "int8":  # checked before: OpenVINO is installed
        return RuntimeChoice("openvino", reason="int8 runs on OpenVINO only")
    from livecam.video.governor import CostCache, QualityLevel

    costs = costs or CostCache()
    level = QualityLevel(model.input_size[0], model.precision)
    profile = f"runtime-choice|{','.join(model.cam_layers)}"
    measured: dict[str, float] = {}
    for name in ("tensorflow", "openvino"):
        known = costs.costs(f"{model.name}@{name}", profile, [level]).get(level)
        if known is None:
            try:
                known = _step_cost(replace(model, runtime=name))
            except Exception as exc:  # any failure to convert or run: not OpenVINO
                return RuntimeChoice("tensorflow", measured, f"OpenVINO failed: {exc}")
            costs.update(f"{model.name}@{name}", profile, {level: known})
            costs.save()
        measured[name] = round(known * 1000, 3)
    return RuntimeChoice(min(measured, key=measured.get), measured)


def _step_cost(model: LoadedModel) -> float:
    """Median seconds of a batch-1 Grad-CAM step, after two untimed ones."""
    from livecam.cam import CamEngine

    engine = CamEngine(model)
    height, width = model.input_size
    images = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    times = []
    for index in range(AUTO_FRAMES + 2):
        start = time.perf_counter()
        engine(images)
        if index >= 2:
            times.append(time.perf_counter() - start)
    return float(np.median(times))
