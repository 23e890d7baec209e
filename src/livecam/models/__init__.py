"""Models: resolve a spec (``lite0``, a ``keras.applications`` name, a
``.keras``/``.h5`` file) to a classifier ready for CAM.

``zoo`` lists the built-in models, ``lite0`` and ``torch_checkpoint`` bring the
bundled offline model in without torch, ``graph`` does the Keras surgery
(logits, input size, precision), ``layers`` the CAM layer's candidates and
default, ``labels`` maps class names, ``tokens`` a transformer's tokens to
their grid, ``spec`` holds every option that selects a model. The runtime is
only carried here: :func:`livecam.load_model` checks it and resolves ``auto``.
"""

from livecam.models.loader import (
    MIN_INPUT_SIZE,
    PRECISIONS,
    LayerReport,
    LoadedModel,
    from_keras,
    load_model,
    model_layers,
)
from livecam.models.zoo import DEFAULT_MODEL, model_names
from livecam.spec import ModelSpec, as_spec

__all__ = [
    "DEFAULT_MODEL",
    "MIN_INPUT_SIZE",
    "PRECISIONS",
    "LayerReport",
    "LoadedModel",
    "ModelSpec",
    "as_spec",
    "from_keras",
    "load_model",
    "model_layers",
    "model_names",
]
