"""Resolve a model spec to a Keras model, its preprocessing, labels and CAM layer.

Specs:
    ``lite0``: EfficientNet-Lite0 (ImageNet), bundled, works offline (default).
    ``vgg16``, ``resnet50``, ...: ``keras.applications`` models; ImageNet
        weights are downloaded by Keras, so they need the internet.
    ``path/to/model.keras`` or ``.h5``: any saved Keras model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from livecam.errors import InputSizeError, LayerError, ModelError, UnknownModelError
from livecam.kinds import ClassScores, KindOptions, LabelScores, Objective, Region, recognise
from livecam.models import graph, lite0, zoo
from livecam.models.labels import default_labels, read_labels
from livecam.models.layers import CandidateLayer, candidate_layers, find_cam_layer, token_grid
from livecam.models.tokens import TokenGrid
from livecam.spec import ModelSpec, as_spec

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "int8")
# int8 is OpenVINO's post-training quantization of a float32 model


def keras_policy(precision: str) -> str:
    """The Keras dtype policy a precision builds the model under."""
    return "float32" if precision == "int8" else precision


MIN_INPUT_SIZE = 32


@dataclass
class LoadedModel:
    """A classifier ready for CAM.

    Attributes:
        name: The spec it was loaded from.
        model: Keras model, preprocessed image -> class logits.
        preprocess: RGB float tensor in [0, 255] -> model input.
        labels: One label per class.
        cam_layer: Name of the layer whose activations are explained (with
            several layers, the last one listed).
        input_size: ``(height, width)`` the model runs at.
        normalisation: ``softmax`` or ``sigmoid``: what turns the logits into
            the probabilities the original model output.
        precision: The Keras dtype policy the model was built under, or
            ``int8`` (built in float32, quantized by the OpenVINO runtime).
        origin: The bundle at the native size that variants are built from
            (None for that bundle itself).
        objective: What a map explains (a class, a label, a segment, a
            similarity): see :mod:`livecam.kinds`.
        token_grid: The patch grid when the CAM layer outputs tokens.
        cam_layers: Every explained layer (``--layer A,B,C``): their maps are
            averaged. Default: ``(cam_layer,)``.
        runtime: The name of the runtime the layers up to the CAM layer run
            on: ``tensorflow`` or ``openvino`` (see :mod:`livecam.runtime`; this
            package only carries it: :func:`livecam.loading.load_model` checks it).
        calibration: Frames ``int8`` is calibrated on: a video or a folder of
            images (None: the bundled samples).
        cache: What is built once per model and reused by every engine (the
            converted backbone); each variant starts its own.
    """

    name: str
    model: Any
    preprocess: Callable[[Any], Any]
    labels: list[str]
    cam_layer: str
    input_size: tuple[int, int]
    normalisation: str = "softmax"
    precision: str = "float32"
    origin: LoadedModel | None = field(default=None, repr=False, compare=False)
    objective: Objective | None = None
    token_grid: TokenGrid | None = None
    cam_layers: tuple[str, ...] = ()
    runtime: str = "tensorflow"
    calibration: str | None = None
    cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.cam_layers:
            self.cam_layers = (self.cam_layer,)
        if self.objective is None:
            self.objective = LabelScores() if self.normalisation == "sigmoid" else ClassScores()

    @property
    def kind(self) -> str:
        """``class``, ``label`` (multi-label), ``segment`` or ``similarity``."""
        return self.objective.kind

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def variant(self, input_size: int | None = None, precision: str | None = None) -> LoadedModel:
        """The same weights at another square input size and/or precision.

        Raises:
            InputSizeError: The architecture cannot take ``input_size``.
        """
        size = input_size or self.input_size[0]
        precision = precision or self.precision
        if (size, size) == self.input_size and precision == self.precision:
            return self
        # Always from the native bundle: a smaller variant of a Flatten head has
        # the resize folded into its Dense kernel, which cannot be undone.
        native = self.origin or self
        if (size, size) == native.input_size and precision == native.precision:
            return native
        resize = None if (size, size) == native.input_size else size
        if resize is not None and native.token_grid is not None:
            raise InputSizeError(
                f"model {native.name!r} explains transformer tokens at layer "
                f"{native.cam_layer!r}: its position embeddings are fixed to the native "
                f"{native.input_size[0]}x{native.input_size[1]} input, and livecam does not "
                f"interpolate them, so it runs at that size only (not {size})"
            )
        model, _ = graph.rebuild(native.model, resize, keras_policy(precision))  # already logits
        built = replace(
            native, model=model, input_size=(size, size), precision=precision, origin=native
        )
        built.objective = native.objective.for_variant(built)
        return built


def _model_file(path: Path):
    import keras

    try:
        # safe_mode refuses Lambda layers and other code stored in the file;
        # pyproject requires a Keras release without the known bypasses.
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds for a bad file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ""
        if "safe_mode" in str(exc) or "Unknown layer" in str(exc):
            hint = (
                " (livecam loads models in Keras's safe mode: register custom layers with "
                "@keras.saving.register_keras_serializable and import them before loading, "
                "and replace Lambda layers)"
            )
        raise ModelError(f"cannot load model file {path}: {first_line}{hint}") from exc
    return model, _identity


def _identity(x):
    return x


def _base_model(spec: str, weights: str | None):
    if spec == zoo.DEFAULT_MODEL:
        return zoo.lite0_model(weights)
    if spec in zoo.KERAS_APPLICATIONS:
        return zoo.keras_application(spec, weights)
    path = Path(spec)
    if path.suffix in (".keras", ".h5") and path.is_file():
        return _model_file(path)
    if path.suffix in (".keras", ".h5"):
        raise UnknownModelError(f"model file {spec} does not exist")
    raise UnknownModelError(
        f"unknown model {spec!r}; choose one of {', '.join(zoo.model_names(every=False))}, "
        f"another keras.applications name (livecam models --all) or a .keras/.h5 file"
    )


def _select_output(model, output: int | str | None):
    import keras

    if len(model.outputs) == 1:
        return model
    names = list(getattr(model, "output_names", None) or [t.name for t in model.outputs])
    if output is None:
        raise ModelError(
            f"model {model.name!r} has {len(names)} outputs ({', '.join(names)}): "
            "choose one with output=INDEX or NAME"
        )
    if isinstance(output, int) or str(output).isdigit():
        index = int(output)
    else:
        index = names.index(output) if output in names else -1
    if not 0 <= index < len(names):
        raise ModelError(
            f"model {model.name!r} has no output {output!r}; outputs: {', '.join(names)}"
        )
    return keras.Model(model.inputs, model.outputs[index], name=model.name)


def _native_size(model) -> tuple[int, int]:
    height, width = model.input_shape[1:3]
    return (height or lite0.NATIVE_SIZE, width or lite0.NATIVE_SIZE)


def _normalise_weights(weights: str | None) -> str | None:
    if weights is None or str(weights).lower() == "none":
        return None
    return str(weights)


def load_model(spec: str | ModelSpec = zoo.DEFAULT_MODEL, **overrides: Any) -> LoadedModel:
    """Load an image model and prepare it for CAM, on the runtime the spec
    names (carried, not checked here: :func:`livecam.load_model` checks it and
    resolves ``auto``).

    The model's output decides what a map explains (:mod:`livecam.kinds`):
    ``[batch, classes]`` is a classifier (a sigmoid head: independent labels),
    ``[batch, H, W, classes]`` a segmentation model (a class over its predicted
    mask, or over ``region``); with ``similar_to`` the output is an embedding,
    and a map explains its cosine similarity to the reference image's.

    Args:
        spec: A model name (``lite0``, a ``keras.applications`` name, a
            ``.keras``/``.h5`` file) or a :class:`~livecam.spec.ModelSpec`.
        **overrides: Fields of the spec (``weights``, ``layer``, ``labels``,
            ``input_size``, ``precision``, ...): see :class:`ModelSpec`.

    Returns:
        The prepared model.

    Raises:
        UnknownModelError, WeightsUnavailableError, LayerError, InputSizeError, ModelError.

    Example:
        >>> bundle = load_model("lite0")
        >>> bundle.cam_layer
        'top_activation'
    """
    spec = as_spec(spec, overrides)
    if spec.precision not in PRECISIONS:
        raise ModelError(
            f"unknown precision {spec.precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    if spec.input_size is not None and spec.input_size < MIN_INPUT_SIZE:
        raise InputSizeError(
            f"input size {spec.input_size} is too small (minimum {MIN_INPUT_SIZE})"
        )
    base, preprocess = _base_model(spec.model, _normalise_weights(spec.weights))
    native = from_keras(
        _select_output(base, spec.output),
        name=spec.model,
        preprocess=preprocess,
        layer=spec.layer or zoo.PREFERRED_LAYERS.get(spec.model),
        labels=list(spec.labels) if isinstance(spec.labels, tuple) else spec.labels,
        precision=spec.precision,
        grid=spec.grid,
        skip_tokens=spec.skip_tokens,
        region=spec.region,
        similar_to=spec.similar_to,
        runtime=spec.runtime,
        calibration=spec.calibration,
    )
    return native.variant(spec.input_size) if spec.input_size else native


def from_keras(
    model,
    *,
    name: str | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    layer: str | None = None,
    labels: str | Path | list[str] | None = None,
    precision: str = "float32",
    grid: tuple[int, int] | None = None,
    skip_tokens: int | None = None,
    region: Region | None = None,
    similar_to: str | Path | np.ndarray | None = None,
    runtime: str = "tensorflow",
    calibration: str | Path | None = None,
) -> LoadedModel:
    """Prepare an in-memory Keras model (one output) for CAM, as :func:`load_model`
    does a file. ``preprocess`` maps RGB floats in [0, 255] to the model's
    input (default: unchanged); the other arguments are fields of a
    :class:`~livecam.spec.ModelSpec`.
    """
    policy = None if keras_policy(precision) == "float32" else precision
    rebuilt, normalisation = graph.rebuild(model, None, policy)
    cam_layers = _cam_layers(rebuilt, layer)
    cam_layer = cam_layers[-1]
    tokens = token_grid(rebuilt, cam_layer, grid, skip_tokens)
    _check_same_grid(rebuilt, cam_layers, tokens, grid, skip_tokens)
    options = KindOptions(region=region, similar_to=similar_to)
    objective = recognise(rebuilt.output_shape, normalisation, options, rebuilt.name)
    bundle = LoadedModel(
        name=name or model.name,
        model=rebuilt,
        preprocess=preprocess or _identity,
        labels=objective.class_names() or _labels(labels, rebuilt.output_shape[-1]),
        cam_layer=cam_layer,
        input_size=_native_size(model),
        normalisation=normalisation,
        precision=precision,
        objective=objective,
        token_grid=tokens,
        cam_layers=cam_layers,
        runtime=runtime,
        calibration=None if calibration is None else str(calibration),
    )
    # a kind that needs the model itself (a similarity embeds its reference) binds now
    bundle.objective = objective.for_variant(bundle)
    bundle.labels = bundle.objective.class_names() or bundle.labels
    return bundle


def _cam_layers(model, layer: str | None) -> tuple[str, ...]:
    """The explained layers: ``layer`` may list several, comma-separated."""
    if layer is None or "," not in layer:
        return (find_cam_layer(model, layer),)
    names = tuple(dict.fromkeys(name.strip() for name in layer.split(",") if name.strip()))
    if not names:
        raise LayerError(f"--layer {layer!r} names no layer")
    return tuple(find_cam_layer(model, name) for name in names)


def _check_same_grid(model, names, tokens, grid, skip_tokens) -> None:
    """Several token layers are averaged on one patch grid: they must share it."""
    for name in names[:-1]:
        other = token_grid(model, name, grid if tokens else None, skip_tokens if tokens else None)
        if other != tokens:
            raise LayerError(
                f"layers {name!r} and {names[-1]!r} cannot be combined: one outputs tokens "
                f"on grid {other}, the other {tokens}; list layers of one kind"
            )


@dataclass(frozen=True)
class LayerReport:
    """What ``livecam layers`` shows: the candidate CAM layers of a model, the
    default one, or why there is none."""

    model: str
    candidates: list[CandidateLayer]
    default: str | None
    refusal: str | None


def model_layers(
    spec: str, *, weights: str | None = None, output: int | str | None = None
) -> LayerReport:
    """The candidate CAM layers of ``spec`` as :func:`load_model` sees them
    (random weights by default: the layers do not depend on them).

    Raises:
        UnknownModelError, WeightsUnavailableError, ModelError.
    """
    base, _ = _base_model(spec, _normalise_weights(weights))
    model, _ = graph.rebuild(_select_output(base, output), None, None)
    try:
        default, refusal = find_cam_layer(model, zoo.PREFERRED_LAYERS.get(spec)), None
    except LayerError as exc:
        default, refusal = None, str(exc)
    return LayerReport(spec, candidate_layers(model), default, refusal)


def _labels(labels: str | Path | list[str] | None, num_classes: int) -> list[str]:
    if labels is None:
        return default_labels(num_classes)
    found = list(labels) if isinstance(labels, list) else read_labels(labels)
    if len(found) != num_classes:
        raise ModelError(f"labels has {len(found)} entries but the model has {num_classes} classes")
    return found
