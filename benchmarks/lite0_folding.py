"""Folded vs unfolded batch norms in the bundled Lite0, measured in one run:
the Grad-CAM step (batch 1, the live case) and a batched forward pass (64
images, Score-CAM's masked inputs).

    python benchmarks/lite0_folding.py
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import tensorflow as tf

from livecam.models import lite0
from livecam.timing import cpu_name


def gradcam_step(model):
    import keras

    inner = keras.Model(model.input, [model.get_layer(lite0.CAM_LAYER).output, model.output])

    @tf.function
    def step(images):
        with tf.GradientTape() as tape:
            activations, logits = inner(images, training=False)
            score = tf.reduce_max(logits, axis=1)
        return tape.gradient(score, activations)

    return step


def median_s(function, batch, repeats: int) -> float:
    function(batch)  # trace
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.asarray(function(batch))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    one = tf.constant(rng.uniform(-1, 1, (1, 224, 224, 3)).astype("float32"))
    many = tf.constant(rng.uniform(-1, 1, (64, 224, 224, 3)).astype("float32"))
    checkpoint = lite0.checkpoint_path()
    models = {
        "unfolded": lite0.convert(checkpoint, fold=False),
        "folded": lite0.convert(checkpoint),
    }
    figures = {}
    for _ in range(2):  # interleaved, so drift on a shared machine hits both
        for name, model in models.items():
            forward = tf.function(lambda x, model=model: model(x, training=False))
            step = median_s(gradcam_step(model), one, 30)
            batch = median_s(forward, many, 3)
            figures.setdefault(name, []).append((step, batch))
    print(f"{cpu_name()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}")
    print("model      Grad-CAM step b1 (ms)   forward b64 (s)")
    for name, runs in figures.items():
        step, batch = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"{name:10} {step * 1000:21.1f} {batch:17.3f}")
    unfolded, folded = figures["unfolded"], figures["folded"]
    step_ratio = min(r[0] for r in unfolded) / min(r[0] for r in folded)
    batch_ratio = min(r[1] for r in unfolded) / min(r[1] for r in folded)
    print(f"folded is {step_ratio:.2f}x faster per step, {batch_ratio:.2f}x per batch")


if __name__ == "__main__":
    main()
