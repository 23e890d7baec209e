"""The built-in models: ``lite0`` (bundled, offline) and ``keras.applications``
entries, each with its preprocessing and preferred CAM layer."""

from __future__ import annotations

from pathlib import Path

from livecam.errors import ModelError, WeightsUnavailableError
from livecam.models import lite0

DEFAULT_MODEL = "lite0"

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


def _is_offline_error(exc: Exception) -> bool:
    text = str(exc)
    return "URL fetch failure" in text or isinstance(exc, OSError)


def keras_application(name: str, weights: str | None):
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
        load_weights_file(model, weights)
    return model, preprocess


def load_weights_file(model, path: str) -> None:
    if not Path(path).is_file():
        raise ModelError(f"weights file {path} does not exist")
    try:
        model.load_weights(path)
    except (ValueError, OSError) as exc:
        raise ModelError(f"cannot load weights {path} into {model.name}: {exc}") from exc


def lite0_model(weights: str | None):
    if weights == "imagenet":
        return lite0.load(), lite0.preprocess
    model = lite0.build()
    if weights is not None:
        load_weights_file(model, weights)
    return model, lite0.preprocess
