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

from livecam.errors import InputSizeError, ModelError, UnknownModelError
from livecam.models import graph, lite0, zoo
from livecam.models.labels import default_labels, read_labels

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
MIN_INPUT_SIZE = 32


@dataclass
class LoadedModel:
    """A classifier ready for CAM.

    Attributes:
        name: The spec it was loaded from.
        model: Keras model, preprocessed image -> class logits.
        preprocess: RGB float tensor in [0, 255] -> model input.
        labels: One label per class.
        cam_layer: Name of the layer whose activations are explained.
        input_size: ``(height, width)`` the model runs at.
        normalisation: ``softmax`` or ``sigmoid``: what turns the logits into
            the probabilities the original model output.
        precision: The Keras dtype policy the model was built under.
        origin: The bundle at the native size that variants are built from
            (None for that bundle itself).
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
        model, _ = graph.rebuild(native.model, resize, precision)  # already logits
        return replace(
            native, model=model, input_size=(size, size), precision=precision, origin=native
        )


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
        f"unknown model {spec!r}; choose one of {', '.join(zoo.model_names())} or a .keras/.h5 file"
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
    spec: str = zoo.DEFAULT_MODEL,
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
    policy = None if precision == "float32" else precision
    model, normalisation = graph.rebuild(base, None, policy)
    cam_layer = graph.find_cam_layer(model, layer or zoo.PREFERRED_LAYERS.get(spec))
    class_labels = _labels(labels, model.output_shape[-1])
    native = LoadedModel(
        name=spec,
        model=model,
        preprocess=preprocess,
        labels=class_labels,
        cam_layer=cam_layer,
        input_size=_native_size(base),
        normalisation=normalisation,
        precision=precision,
    )
    return native.variant(input_size) if input_size else native


def _labels(labels: str | Path | list[str] | None, num_classes: int) -> list[str]:
    if labels is None:
        return default_labels(num_classes)
    found = list(labels) if isinstance(labels, list) else read_labels(labels)
    if len(found) != num_classes:
        raise ModelError(f"labels has {len(found)} entries but the model has {num_classes} classes")
    return found
