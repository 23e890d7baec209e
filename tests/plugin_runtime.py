"""A runtime added as one module: Keras run eagerly, outside the compiled step,
computes the CAM layer's activations (the head and its gradients stay in the
step, as on OpenVINO without a dense head)."""

from __future__ import annotations

import numpy as np


class EagerKerasBackbone:
    head = False
    mean = False

    def __init__(self, model) -> None:
        from livecam.models import graph

        self.model = model
        self.features = graph.features_and_output_model(model.model, list(model.cam_layers))

    def __call__(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict:
        import tensorflow as tf

        inputs = self.model.preprocess(tf.cast(images, tf.float32))
        *activations, _ = self.features(inputs, training=False)
        return {f"layer_{i}": np.asarray(a, np.float32) for i, a in enumerate(activations)}


class EagerKerasRuntime:
    name = "eager-keras"
    in_step = False
    calls = 0  # backbones built: the test sees that this runtime answered

    def unavailable(self, precision: str) -> str | None:
        return None if precision == "float32" else f"eager-keras runs float32, not {precision}"

    def faster_precisions(self) -> list[str]:
        return []

    def has_bfloat16(self) -> bool:
        return False

    def refused(self, needs: dict[str, bool]) -> str | None:
        return next((what for what, needed in needs.items() if needed), None)

    def backbone(self, model, head: bool, mean: bool) -> EagerKerasBackbone:
        key = ("eager-keras backbone", model.cam_layers)
        if key not in model.cache:
            type(self).calls += 1
            model.cache[key] = EagerKerasBackbone(model)
        return model.cache[key]

    def scorer(self, model, after: str | None) -> None:
        return None

    def runs_head(self, model) -> bool:
        return False

    def version(self) -> str:
        import keras

        return f"keras {keras.__version__} (eager)"
