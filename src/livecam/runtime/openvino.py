"""The model below the CAM layer on OpenVINO: converted once, cached on disk.

The conversion takes a ``tf.function`` (the model's preprocessing, then its
layers up to the CAM layers, float32) in memory: ``openvino.convert_model``
traces it, no SavedModel on disk. The converted model is saved under the cache
directory, keyed by the weights' content, the layers, the input size and the
OpenVINO version; a second start reads it instead of converting. Where the
head after the CAM layer is a dense chain (:mod:`livecam.runtime.dense_head`),
the converted model also runs the head, picks the explained classes and
computes their gradients: the whole forward and backward pass in one call.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from livecam.cam.base import ranked_class_ids
from livecam.errors import RuntimeChoiceError
from livecam.models.lite0 import cache_dir
from livecam.runtime import dense_head

# livecam precision -> OpenVINO's inference precision; the model is always
# converted in float32 (one conversion for both), the hint sets what runs
PRECISION_HINTS = {"float32": "f32", "mixed_bfloat16": "bf16"}
FORMAT = "weights-f32"  # part of the cache key: a change of how models are saved


class OpenVinoBackbone:
    """Activations of the CAM layers of a :class:`~livecam.models.LoadedModel`,
    computed by OpenVINO on the CPU.

    Args:
        model: The model, at the precision to run (converted from its float32 variant).
        head: Also run the head: logits, the targets' class ids and their gradients.
        mean: The gradients averaged over the grid only (Grad-CAM's weights).

    Attributes:
        cached: Whether the converted model came from the disk cache.
        path: The converted model's ``.xml`` in the cache.
    """

    def __init__(self, model, head: bool = False, mean: bool = False) -> None:
        import openvino as ov

        core = ov.Core()
        _check_precision(core, model.precision)
        self.layers = model.cam_layers
        float32 = model.variant(precision="float32")  # the same weights, not rounded
        self.head, self.mean = head, head and mean
        variant = f"head-{model.objective.kind}-{'mean' if self.mean else 'full'}" if head else ""
        key = _key(float32, ov.get_version(), variant)
        self.path = cache_dir() / "openvino" / key / "backbone.xml"
        self.cached = self.path.is_file()
        if not self.cached:
            _save_atomically(_convert(float32, head, self.mean), self.path)
        config = {
            "INFERENCE_PRECISION_HINT": PRECISION_HINTS[model.precision],
            "PERFORMANCE_HINT": "LATENCY",
        }
        self._compiled = core.compile_model(core.read_model(self.path), "CPU", config)
        names = [f"layer_{i}" for i in range(len(self.layers))]
        if head:
            names += ["logits", "class_ids", "gradients"]
        self._outputs = [self._compiled.output(name) for name in names]
        self._lock = threading.Lock()  # one infer request: one batch at a time

    def __call__(self, images: np.ndarray, targets: np.ndarray | None = None) -> list[np.ndarray]:
        """Each CAM layer's activations; with the head, then the logits, the
        class ids ``[batch, targets]`` of the target codes and their gradients."""
        inputs = [np.asarray(images, np.float32)]
        if self.head:
            inputs.append(np.asarray(targets, np.int32))
        with self._lock:
            results = self._compiled(inputs)
            return [np.array(results[output]) for output in self._outputs]


def _check_precision(core, precision: str) -> None:
    if precision not in PRECISION_HINTS:
        raise RuntimeChoiceError(
            f"--runtime openvino runs precision {', '.join(PRECISION_HINTS)}, not {precision!r}"
        )
    capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if PRECISION_HINTS[precision] == "bf16" and "BF16" not in capabilities:
        raise RuntimeChoiceError(
            f"this CPU has no bfloat16 for OpenVINO (it has {', '.join(capabilities)}): "
            f"use --precision float32"
        )


def _convert(model, head: bool, mean: bool):
    """The OpenVINO model of ``uint8 images -> [activations of each CAM layer]``,
    and with ``head``, of ``(images, target codes) -> [activations, logits,
    class ids, gradients]``."""
    import openvino as ov
    import tensorflow as tf

    from livecam.models import graph

    features = graph.features_and_output_model(model.model, list(model.cam_layers))
    height, width = model.input_size
    images_spec = tf.TensorSpec([None, height, width, 3], tf.float32)

    def activations_of(images):
        *activations, _ = features(model.preprocess(images), training=False)
        return {f"layer_{i}": tf.cast(a, tf.float32) for i, a in enumerate(activations)}

    if not head:
        return ov.convert_model(tf.function(activations_of, input_signature=[images_spec]))
    layers = dense_head.head_layers(dense_head.head_model(model))

    @tf.function(input_signature=[images_spec, tf.TensorSpec([None], tf.int32)])
    def explained(images, targets):
        outputs = activations_of(images)
        run = dense_head.run_head_for_mean if mean else dense_head.run_head
        logits, gradients_of = run(layers, outputs["layer_0"])
        class_ids = ranked_class_ids(model.objective.probabilities(logits), targets)
        return {
            **outputs,
            "logits": logits,
            "class_ids": class_ids,
            "gradients": gradients_of(class_ids),
        }

    return ov.convert_model(explained)


def _key(model, version: str, variant: str) -> str:
    from livecam.runtime import model_digest

    digest = hashlib.sha256(model_digest(model).encode())
    for part in (*model.cam_layers, str(model.input_size), version, FORMAT, variant):
        digest.update(part.encode())
    return digest.hexdigest()[:24]


def _save_atomically(converted, path: Path) -> None:
    """Save the ``.xml`` and ``.bin`` beside each other, then move the folder into
    place: a reader never sees half a model (a concurrent writer's copy wins)."""
    import openvino as ov

    path.parent.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent.parent, prefix=".converting-"))
    try:
        # save_model stores float16 weights by default: the maps would drift
        ov.save_model(converted, staging / path.name, compress_to_fp16=False)
        try:
            os.replace(staging, path.parent)
        except OSError:  # already there: another process converted it first
            if not path.is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
