"""Where the part of the model below the CAM layer runs.

The engine asks a *backbone* for a batch's CAM-layer activations; it does not
know which runtime answered. ``tensorflow`` is the engine's own compiled step
(no backbone object: the forward pass stays inside it). ``openvino`` converts
the model from its input to the CAM layer once, caches the conversion on disk
and runs it with OpenVINO's CPU kernels; the layers after the CAM layer, and
every gradient, stay in the compiled TensorFlow step.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Protocol

import numpy as np

from livecam.errors import RuntimeChoiceError

if TYPE_CHECKING:
    from livecam.models import LoadedModel

RUNTIMES = ("tensorflow", "openvino")


class Backbone(Protocol):
    """The model from its input to the CAM layers, run outside TensorFlow; with
    ``head``, the head after them and its gradients too."""

    head: bool

    def __call__(self, images: np.ndarray, targets: np.ndarray | None = None) -> list[np.ndarray]:
        """RGB uint8 ``[batch, H, W, 3]`` -> each CAM layer's float32 activations;
        with ``head``, then the logits, the class ids ``[batch, targets]`` of the
        target codes and d(logit)/d(activations) ``[batch, targets, ...]``."""


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is known and can run here.

    Raises:
        RuntimeChoiceError: An unknown runtime, or OpenVINO is not installed.
    """
    if runtime not in RUNTIMES:
        raise RuntimeChoiceError(
            f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}"
        )
    if runtime == "openvino" and importlib.util.find_spec("openvino") is None:
        raise RuntimeChoiceError(
            "--runtime openvino needs OpenVINO, which is not installed: "
            "pip install 'livecam[openvino]'"
        )
    return runtime


def has_bfloat16(runtime: str) -> bool:
    """Whether ``runtime`` can run ``mixed_bfloat16`` here (TensorFlow always can,
    slowly without the instructions; OpenVINO only where the CPU has them)."""
    if runtime != "openvino":
        return True
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def backbone(model: LoadedModel, head: bool = False) -> Backbone | None:
    """The backbone ``model`` runs on, converted once per model variant; None
    when the runtime is TensorFlow (the forward pass stays in the engine's step).
    With ``head`` (see :func:`runs_head`), it also runs the head and its gradient."""
    if model.runtime == "tensorflow":
        return None
    key = ("backbone", model.cam_layers, head)
    if key not in model.cache:
        from livecam.runtime.openvino import OpenVinoBackbone

        model.cache[key] = OpenVinoBackbone(model, head=head)
    return model.cache[key]


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
