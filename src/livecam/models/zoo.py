"""The built-in models: ``lite0`` (bundled, offline) and ``keras.applications``
entries, each with its preprocessing and preferred CAM layer."""

from __future__ import annotations

from pathlib import Path

from livecam.errors import ModelError, WeightsUnavailableError
from livecam.models import lite0
from livecam.spec import DEFAULT_MODEL

# name -> (keras.applications constructor, module holding its preprocess_input):
# every ImageNet classifier of Keras 3's keras.applications (RegNet and
# ResNet-RS were tf.keras 2 only).
KERAS_APPLICATIONS = {
    "convnext_base": ("ConvNeXtBase", "convnext"),
    "convnext_large": ("ConvNeXtLarge", "convnext"),
    "convnext_small": ("ConvNeXtSmall", "convnext"),
    "convnext_tiny": ("ConvNeXtTiny", "convnext"),
    "convnext_xlarge": ("ConvNeXtXLarge", "convnext"),
    "densenet121": ("DenseNet121", "densenet"),
    "densenet169": ("DenseNet169", "densenet"),
    "densenet201": ("DenseNet201", "densenet"),
    "efficientnet_b0": ("EfficientNetB0", "efficientnet"),
    "efficientnet_b1": ("EfficientNetB1", "efficientnet"),
    "efficientnet_b2": ("EfficientNetB2", "efficientnet"),
    "efficientnet_b3": ("EfficientNetB3", "efficientnet"),
    "efficientnet_b4": ("EfficientNetB4", "efficientnet"),
    "efficientnet_b5": ("EfficientNetB5", "efficientnet"),
    "efficientnet_b6": ("EfficientNetB6", "efficientnet"),
    "efficientnet_b7": ("EfficientNetB7", "efficientnet"),
    "efficientnet_v2_b0": ("EfficientNetV2B0", "efficientnet_v2"),
    "efficientnet_v2_b1": ("EfficientNetV2B1", "efficientnet_v2"),
    "efficientnet_v2_b2": ("EfficientNetV2B2", "efficientnet_v2"),
    "efficientnet_v2_b3": ("EfficientNetV2B3", "efficientnet_v2"),
    "efficientnet_v2_l": ("EfficientNetV2L", "efficientnet_v2"),
    "efficientnet_v2_m": ("EfficientNetV2M", "efficientnet_v2"),
    "efficientnet_v2_s": ("EfficientNetV2S", "efficientnet_v2"),
    "inception_resnet_v2": ("InceptionResNetV2", "inception_resnet_v2"),
    "inception_v3": ("InceptionV3", "inception_v3"),
    "mobilenet": ("MobileNet", "mobilenet"),
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2"),
    "mobilenet_v3_large": ("MobileNetV3Large", "mobilenet_v3"),
    "mobilenet_v3_small": ("MobileNetV3Small", "mobilenet_v3"),
    "nasnet_large": ("NASNetLarge", "nasnet"),
    "nasnet_mobile": ("NASNetMobile", "nasnet"),
    "resnet101": ("ResNet101", "resnet"),
    "resnet101_v2": ("ResNet101V2", "resnet_v2"),
    "resnet152": ("ResNet152", "resnet"),
    "resnet152_v2": ("ResNet152V2", "resnet_v2"),
    "resnet50": ("ResNet50", "resnet50"),
    "resnet50_v2": ("ResNet50V2", "resnet_v2"),
    "vgg16": ("VGG16", "vgg16"),
    "vgg19": ("VGG19", "vgg19"),
    "xception": ("Xception", "xception"),
}
# What `livecam models` builds and shows; `--all` lists every name.
FEATURED = (
    "vgg16",
    "vgg19",
    "resnet50",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "efficientnet_b0",
)
# The tutorial explains VGG16 at block5_conv3; auto-detection agrees, but say it.
PREFERRED_LAYERS = {"vgg16": "block5_conv3", "vgg19": "block5_conv4", "lite0": lite0.CAM_LAYER}


def model_names(every: bool = True) -> list[str]:
    """The model names that can be given instead of a file path: all of
    them, or (``every=False``) the bundled one and the featured few."""
    return [DEFAULT_MODEL, *(KERAS_APPLICATIONS if every else FEATURED)]


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
