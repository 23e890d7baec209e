"""Resolve a model spec to a Keras model, its preprocessing, labels and CAM layer.

Specs:
    ``lite0``: EfficientNet-Lite0 (ImageNet), bundled, works offline (default).
    ``vgg16``, ``resnet50``, ...: ``keras.applications`` models; ImageNet
        weights are downloaded by Keras, so they need the internet.
    ``path/to/model.keras`` or ``.h5``: any saved Keras model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from livecam import graph, lite0
from livecam.errors import InputSizeError, ModelError, UnknownModelError, WeightsUnavailableError
from livecam.labels import default_labels, read_labels

DEFAULT_MODEL = "lite0"
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
MIN_INPUT_SIZE = 32

# name -> (keras.applications constructor, module holding its preprocess_input)
KERAS_APPLICATIONS = {
    "vgg16": ("VGG16", "vgg16"),
    "vgg19": ("VGG19", "vgg19"),
    "resnet50": ("ResNet50", "resnet50"),
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2"),
    "mobilenet_v3_large": ("MobileNetV3Large", "mobilenet_v3"),
    "efficientnet_b0": ("EfficientNetB0", "efficientnet"),
}
# The tutorial explains VGG16 at block5_conv3; auto-detection agrees, but say it.
PREFERRED_LAYERS = {"vgg16": "block5_conv3", "vgg19": "block5_conv4", "lite0": lite0.CAM_LAYER}


def model_names() -> list[str]:
    """Every model name that can be given instead of a file path."""
    return [DEFAULT_MODEL, *KERAS_APPLICATIONS]


@dataclass
class LoadedModel:
    """A classifier ready for CAM.

    Attributes:
        name: The spec it was loaded from.
        model: Keras model, preprocessed image -> class scores (logits when
            ``outputs_logits``).
        preprocess: RGB float tensor in [0, 255] -> model input.
        labels: One label per class.
        cam_layer: Name of the layer whose activations are explained.
        input_size: ``(height, width)`` the model runs at.
        outputs_logits: Whether ``model`` outputs pre-softmax scores.
        precision: The Keras dtype policy the model was built under.
    """

    name: str
    model: Any
    preprocess: Callable[[Any], Any]
    labels: list[str]
    cam_layer: str
    input_size: tuple[int, int]
    outputs_logits: bool = True
    precision: str = "float32"

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
        resize = None if (size, size) == self.input_size else size
        model, logits = graph.rebuild(self.model, resize, precision)
        return replace(
            self,
            model=model,
            input_size=(size, size),
            precision=precision,
            outputs_logits=self.outputs_logits and logits,
        )


def _is_offline_error(exc: Exception) -> bool:
    text = str(exc)
    return "URL fetch failure" in text or isinstance(exc, OSError)


def _keras_application(name: str, weights: str | None):
    import keras

    constructor_name, module_name = KERAS_APPLICATIONS[name]
    constructor = getattr(keras.applications, constructor_name)
    preprocess = getattr(keras.applications, module_name).preprocess_input
    if weights == "imagenet":
        try:
            return constructor(weights="imagenet"), preprocess
        except Exception as exc:  # Keras raises a bare Exception on a failed download
            if not _is_offline_error(exc):
                raise
            raise WeightsUnavailableError(
                f"cannot download ImageNet weights for {name} (offline?): pass --weights PATH "
                f"to a local weights file, --weights none for random weights, or use the "
                f"bundled offline model {DEFAULT_MODEL!r}"
            ) from None
    model = constructor(weights=None)
    if weights is not None:
        _load_weights_file(model, weights)
    return model, preprocess


def _load_weights_file(model, path: str) -> None:
    if not Path(path).is_file():
        raise ModelError(f"weights file {path} does not exist")
    try:
        model.load_weights(path)
    except (ValueError, OSError) as exc:
        raise ModelError(f"cannot load weights {path} into {model.name}: {exc}") from exc


def _lite0(weights: str | None):
    if weights == "imagenet":
        return lite0.load(), lite0.preprocess
    model = lite0.build()
    if weights is not None:
        _load_weights_file(model, weights)
    return model, lite0.preprocess


def _model_file(path: Path):
    import keras

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many kinds for a bad file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load model file {path}: {first_line}") from exc
    return model, _identity


def _identity(x):
    return x


def _base_model(spec: str, weights: str | None):
    if spec == DEFAULT_MODEL:
        return _lite0(weights)
    if spec in KERAS_APPLICATIONS:
        return _keras_application(spec, weights)
    path = Path(spec)
    if path.suffix in (".keras", ".h5") and path.is_file():
        return _model_file(path)
    if path.suffix in (".keras", ".h5"):
        raise UnknownModelError(f"model file {spec} does not exist")
    raise UnknownModelError(
        f"unknown model {spec!r}; choose one of {', '.join(model_names())} or a .keras/.h5 file"
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


def load_model(
    spec: str = DEFAULT_MODEL,
    *,
    weights: str | None = "imagenet",
    layer: str | None = None,
    labels: str | Path | list[str] | None = None,
    output: int | str | None = None,
    input_size: int | None = None,
    precision: str = "float32",
) -> LoadedModel:
    """Load a classifier and prepare it for CAM.

    Args:
        spec: ``lite0``, a ``keras.applications`` name, or a ``.keras``/``.h5`` file.
        weights: ``"imagenet"`` (bundled for ``lite0``, downloaded otherwise),
            ``None``/``"none"`` for random weights, or a local weights file.
        layer: CAM layer name; by default the last layer with a spatial 4-D output.
        labels: A labels file or list; by default ImageNet for 1000 classes.
        output: Which output of a multi-output model to explain.
        input_size: Run at this square size instead of the native one (needs a
            convolutional base with global pooling).
        precision: ``float32``, ``mixed_bfloat16`` or ``mixed_float16``.

    Returns:
        The prepared model.

    Raises:
        UnknownModelError, WeightsUnavailableError, LayerError, InputSizeError, ModelError.

    Example:
        >>> bundle = load_model("lite0")
        >>> bundle.cam_layer
        'top_activation'
    """
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if input_size is not None and input_size < MIN_INPUT_SIZE:
        raise InputSizeError(f"input size {input_size} is too small (minimum {MIN_INPUT_SIZE})")
    base, preprocess = _base_model(spec, _normalise_weights(weights))
    base = _select_output(base, output)
    native = _native_size(base)
    size = None if input_size is None or (input_size, input_size) == native else input_size
    policy = None if precision == "float32" else precision
    model, outputs_logits = graph.rebuild(base, size, policy)
    cam_layer = graph.find_cam_layer(model, layer or PREFERRED_LAYERS.get(spec))
    class_labels = _labels(labels, model.output_shape[-1])
    return LoadedModel(
        name=spec,
        model=model,
        preprocess=preprocess,
        labels=class_labels,
        cam_layer=cam_layer,
        input_size=(size, size) if size else native,
        outputs_logits=outputs_logits,
        precision=precision,
    )


def _labels(labels: str | Path | list[str] | None, num_classes: int) -> list[str]:
    if labels is None:
        return default_labels(num_classes)
    found = list(labels) if isinstance(labels, list) else read_labels(labels)
    if len(found) != num_classes:
        raise ModelError(f"labels has {len(found)} entries but the model has {num_classes} classes")
    return found
