"""Jupyter: :func:`show` explains an image in one call (explanations and video
runs display themselves: :mod:`livecam.views`).

Example (in a notebook cell):
    >>> import livecam
    >>> livecam.show("samples/squirrel_cls.jpg", top=3)   # overlays + top classes
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from livecam.cam.targets import top as top_targets
from livecam.explain import Explainer, Explanation
from livecam.frames import read_image


@functools.lru_cache(maxsize=4)
def _explainer(model: str, method: str) -> Explainer:
    return Explainer(model, method)


def show(
    image: str | Path | np.ndarray,
    model: str = "lite0",
    method: str = "gradcam",
    top: int = 3,
) -> Explanation:
    """Explain one image (a path or a BGR array): the returned explanation
    displays itself as the cell's result. The model and its compiled step are
    kept for the next call with the same ``model`` and ``method``.

    Raises:
        ImageReadError, UnknownModelError, MethodError: as the CLI reports them.
    """
    frame = read_image(image) if isinstance(image, (str, Path)) else image
    explainer = _explainer(str(model), method).with_targets(top_targets(top))
    return explainer.explain_one(frame)
