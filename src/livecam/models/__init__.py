"""Models: resolve a spec (``lite0``, a ``keras.applications`` name, a
``.keras``/``.h5`` file) to a classifier ready for CAM.

``zoo`` lists the built-in models, ``lite0`` and ``torch_checkpoint`` bring the
bundled offline model in without torch, ``graph`` does the Keras surgery
(logits, input size, precision), ``layers`` the CAM layer's candidates and
default, ``labels`` maps class names.
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

__all__ = [
    "DEFAULT_MODEL",
    "MIN_INPUT_SIZE",
    "PRECISIONS",
    "LayerReport",
    "LoadedModel",
    "from_keras",
    "load_model",
    "model_layers",
    "model_names",
]
