"""livecam: live class-activation-map overlays for webcams, videos and images.

The heavy parts (TensorFlow) load on first use, so ``import livecam`` is quick.

Example:
    >>> import cv2, livecam
    >>> explainer = livecam.Explainer("lite0", targets=livecam.top(3))
    >>> explanation = explainer.explain_one(cv2.imread("samples/squirrel_cls.jpg"))
"""

from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out

_LAZY = {
    "CamEngine": "livecam.cam",
    "CamOutput": "livecam.cam",
    "Explainer": "livecam.explain",
    "Explanation": "livecam.explain",
    "HeatmapRenderer": "livecam.render",
    "LoadedModel": "livecam.models",
    "load_model": "livecam.loading",
    "from_keras": "livecam.loading",
    "ModelSpec": "livecam.spec",
    "explain_image": "livecam.images",
    "show": "livecam.notebook",
    "annotate_video": "livecam.video.annotate",
    "open_source": "livecam.video",
    "top": "livecam.cam",
    "classes": "livecam.cam",
    "Rank": "livecam.cam",
    "ClassTarget": "livecam.cam",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'livecam' has no attribute {name!r}")
