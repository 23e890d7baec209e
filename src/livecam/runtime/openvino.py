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

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from livecam.cache import cache_root
from livecam.errors import RuntimeChoiceError
from livecam.runtime import dense_head
from livecam.tensors import normalise, ranked_class_ids

# livecam precision -> OpenVINO's inference precision; the model is always
# converted in float32 (one conversion for both), the hint sets what runs;
# int8 is that conversion quantized by NNCF, its other operations in float32
PRECISION_HINTS = {"float32": "f32", "mixed_bfloat16": "bf16", "int8": "f32"}
CALIBRATION_FRAMES = 48  # at most: the first ones of the calibration video or folder
FORMAT = "weights-f32, outputs by name"  # part of the cache key: change it with what is saved
HEAD_SCOPE = "livecam_head"  # the name scope of the head's operations in the conversion


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
        if model.precision == "int8":
            variant += f"-int8-{calibration_digest(model)}"
        key = _key(float32, ov.get_version(), variant)
        self.path = cache_root() / "openvino" / key / "backbone.xml"
        names = [f"layer_{i}" for i in range(len(self.layers))]
        names += ["logits", "class_ids", "gradients"] if head else []
        names += ["maps", "probabilities"] if self.mean else []
        config = {
            "INFERENCE_PRECISION_HINT": PRECISION_HINTS[model.precision],
            "PERFORMANCE_HINT": "LATENCY",
        }

        def converted():
            plain = _convert(float32, head, self.mean)
            return _quantized(plain, model, head) if model.precision == "int8" else plain

        self._compiled, self.cached = _compiled_from_cache(
            core, self.path, names, config, converted
        )
        self._outputs = {name: self._compiled.output(name) for name in names}
        self._lock = threading.Lock()  # one infer request: one batch at a time

    def __call__(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict:
        """See :class:`livecam.runtime.Backbone`."""
        inputs = [np.asarray(images, np.float32)]
        if self.head:
            inputs.append(np.asarray(targets, np.int32))
        with self._lock:
            results = self._compiled(inputs)
            return {name: np.array(results[port]) for name, port in self._outputs.items()}


class OpenVinoScorer:
    """The whole model (preprocessed inputs -> its outputs), or with ``after``
    only the layers after that one (its activations -> the outputs), on
    OpenVINO, for batches of altered inputs: Score-CAM's masked images,
    Ablation-CAM's ablated activations. The model's precision is the inference
    hint (int8: float32, nothing is quantized)."""

    def __init__(self, model, after: str | None = None) -> None:
        import keras
        import openvino as ov
        import tensorflow as tf

        core = ov.Core()
        _check_precision(core, model.precision)
        float32 = model.variant(precision="float32")
        part = float32.model
        if after is not None:
            part = keras.Model(part.get_layer(after).output, part.output)
        variant = "scorer" if after is None else f"head after {after}"
        key = _key(float32, ov.get_version(), variant)
        self.path = cache_root() / "openvino" / key / "model.xml"
        spec = tf.TensorSpec([None, *part.inputs[0].shape[1:]], tf.float32)

        @tf.function(input_signature=[spec])
        def scored(inputs):
            return {"outputs": tf.cast(part(inputs, training=False), tf.float32)}

        config = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[model.precision]}
        self._compiled, _ = _compiled_from_cache(
            core, self.path, ["outputs"], config, lambda: ov.convert_model(scored)
        )
        self._lock = threading.Lock()

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.array(self._compiled(np.asarray(inputs, np.float32))["outputs"])


def _compiled_from_cache(core, path: Path, names: list[str], config: dict, convert):
    """The compiled model at ``path`` and True; where it is missing, unreadable or
    lacks one of ``names`` among its outputs, ``convert()`` saved there first
    and False."""
    compiled = _readable(core, path, names, config) if path.is_file() else None
    if compiled is not None:
        return compiled, True
    shutil.rmtree(path.parent, ignore_errors=True)
    _save_atomically(convert(), path)
    return core.compile_model(core.read_model(path), "CPU", config), False


def _readable(core, path: Path, names: list[str], config: dict):
    """The compiled cached model, or None where it cannot be read or lacks one
    of ``names`` among its outputs (saved by an older livecam)."""
    try:
        compiled = core.compile_model(core.read_model(path), "CPU", config)
    except RuntimeError:
        return None
    found = {name for port in compiled.outputs for name in port.get_names()}
    return compiled if set(names) <= found else None


def _check_precision(core, precision: str) -> None:
    if precision not in PRECISION_HINTS:
        raise RuntimeChoiceError(
            f"--runtime openvino runs precision {', '.join(PRECISION_HINTS)}, not {precision!r}"
        )
    if precision == "int8" and importlib.util.find_spec("nncf") is None:
        raise RuntimeChoiceError(
            "--precision int8 needs NNCF to quantize, which is not installed: "
            "pip install 'livecam[openvino]'"
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
        with tf.name_scope(HEAD_SCOPE):  # int8 leaves the head and its gradient alone
            run = dense_head.run_head_for_mean if mean else dense_head.run_head
            logits, gradients_of = run(layers, outputs["layer_0"])
            probabilities = model.objective.probabilities(logits)
            class_ids = ranked_class_ids(probabilities, targets)
            gradients = gradients_of(class_ids)
        results = {**outputs, "logits": logits, "class_ids": class_ids, "gradients": gradients}
        if mean:  # Grad-CAM's maps, as the engine's step computes them: no TensorFlow call
            summed = tf.reduce_sum(outputs["layer_0"][:, None] * gradients, axis=-1)
            shape = tf.shape(summed)  # [b, t, h, w]: each map normalised on its own
            maps = normalise(tf.reshape(summed, [-1, shape[2], shape[3]]))
            results["maps"] = tf.reshape(maps, shape)
            results["probabilities"] = probabilities
        return results

    return ov.convert_model(explained)


def _quantized(converted, model, head: bool):
    """``converted`` with its convolutions and matrix products in int8 (NNCF's
    post-training quantization, calibrated on :func:`calibration_frames`); the
    head and its gradient stay in float32."""
    import nncf

    nncf.set_log_level(logging.WARNING)  # not a line per operation it leaves alone
    frames = calibration_frames(model)
    names = [port.get_any_name() for port in converted.inputs]

    def inputs_of(frame: np.ndarray) -> dict:
        given = {names[0]: frame[None].astype(np.float32)}
        if head:
            given[names[1]] = np.array([-1], np.int32)
        return given

    with contextlib.redirect_stdout(sys.stderr):  # its progress bars: stdout may be --json
        return nncf.quantize(
            converted,
            nncf.Dataset(list(frames), inputs_of),
            subset_size=len(frames),
            ignored_scope=nncf.IgnoredScope(patterns=[f"{HEAD_SCOPE}/.*"], validate=False),
        )


def calibration_frames(model) -> np.ndarray:
    """RGB uint8 frames at the model's input size: the first
    :data:`CALIBRATION_FRAMES` of ``model.calibration`` (a video or a folder of
    images), or by default the bundled photos, labelled composites and sample
    clip."""
    from livecam.frames import as_bgr8, model_input, read_image
    from livecam.media import load_frames
    from livecam.samples import sample_dir, sample_video

    if model.calibration is not None:
        frames = load_frames(model.calibration, CALIBRATION_FRAMES)
    else:
        stills = sorted(sample_dir().glob("*.jpg")) + sorted((sample_dir() / "eval").glob("*.jpg"))
        frames = [as_bgr8(read_image(path)) for path in stills]
        frames += load_frames(str(sample_video()), CALIBRATION_FRAMES - len(frames))
    return model_input(frames, model.input_size)


def calibration_digest(model) -> str:
    """The calibration frames' content, as a short hex digest (cached per model)."""
    if "calibration digest" not in model.cache:
        frames = calibration_frames(model)
        model.cache["calibration digest"] = hashlib.sha256(frames.tobytes()).hexdigest()[:16]
    return model.cache["calibration digest"]


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
