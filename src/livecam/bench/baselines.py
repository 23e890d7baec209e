"""Baselines measured in the same run as the compiled step: the eager
tutorial formula and tf-keras-vis's ``Gradcam``, on the same model, frames and
classes, with the correlation of their maps to ours."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from livecam.timing import percentiles

BASELINES = ("eager", "tf-keras-vis")
BASELINE_FRAMES = 12  # baselines are slow; a dozen frames give a stable median


def eager_baseline(model, inputs: np.ndarray, ours: np.ndarray, class_ids) -> dict[str, Any]:
    """The tutorial's eager Grad-CAM on the classes livecam explained."""
    from livecam.cam.reference import EagerGradCam

    eager = EagerGradCam(model)
    eager.heatmap(inputs[0], int(class_ids[0]))  # first call builds the graph pieces
    times, maps = [], []
    for image, class_index in zip(inputs, class_ids, strict=True):
        start = time.perf_counter()
        maps.append(eager.heatmap(image, int(class_index)))
        times.append(time.perf_counter() - start)
    return baseline_figures(times, maps, ours)


def tf_keras_vis_baseline(model, inputs: np.ndarray, ours: np.ndarray, class_ids) -> dict:
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return {"skipped": "tf-keras-vis is not installed (pip install tf-keras-vis)"}
    gradcam = Gradcam(model.model, clone=False)
    x = model.preprocess(inputs.astype(np.float32))

    def run(i: int) -> np.ndarray:
        return gradcam(
            CategoricalScore([int(class_ids[i])]),
            x[i : i + 1],
            penultimate_layer=model.cam_layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
            normalize_cam=True,
        )[0]

    run(0)
    times, maps = [], []
    for i in range(len(inputs)):
        start = time.perf_counter()
        maps.append(np.asarray(run(i)))
        times.append(time.perf_counter() - start)
    return baseline_figures(times, maps, ours)


def baseline_figures(times: list[float], maps: list[np.ndarray], ours: np.ndarray) -> dict:
    correlations = [
        float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])
        for a, b in zip(maps, ours, strict=True)
        if np.ptp(a) > 0 and np.ptp(b) > 0
    ]
    median = float(np.median(times))
    return {
        "per_frame_ms": {k: v * 1000 for k, v in percentiles(times).items()},
        "fps": 1.0 / median if median > 0 else float("inf"),
        "correlation": float(np.mean(correlations)) if correlations else float("nan"),
    }
