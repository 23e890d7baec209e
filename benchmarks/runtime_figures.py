"""TensorFlow against OpenVINO below the CAM layer: maps per second of the
Grad-CAM step, fidelity of the maps, start-up cold and warm; one process, the
same frames, the runtimes alternating so a noisy neighbour hits both.

    python benchmarks/runtime_figures.py [--frames 48] [--out docs/runtime.json]

lite0 with its real weights; VGG16 with random weights (nothing is downloaded:
the cost does not depend on them), against TensorFlow float32 and
mixed_bfloat16 (its best step).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from livecam.bench import load_frames, machine_info
from livecam.frames import model_input
from livecam.samples import sample_video

ROUNDS = 3


def step_ms(engine, images: np.ndarray) -> float:
    """Median ms per map of the compiled step, batch 1, over ``images``."""
    times = []
    for image in images:
        start = time.perf_counter()
        engine(image[None])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def compare(model: str, weights: str, frames: list, precisions: tuple[str, ...]) -> dict:
    import keras

    from livecam.cam import CamEngine
    from livecam.models import load_model as load_any

    def load_model(*args, **kwargs):
        keras.utils.set_random_seed(0)  # random weights: the same for every runtime
        return load_any(*args, **kwargs)

    engines = {}
    for precision in precisions:
        bundle = load_model(model, weights=weights, precision=precision)
        engines[f"tensorflow {precision}"] = CamEngine(bundle)
    start = time.perf_counter()
    bundle = load_model(model, weights=weights, runtime="openvino")
    engines["openvino float32"] = CamEngine(bundle)
    images = model_input(frames, bundle.input_size)
    outputs = {name: engine(images) for name, engine in engines.items()}  # traces, converts
    figures = {"openvino_first_start_s": time.perf_counter() - start}
    start = time.perf_counter()
    warm = load_model(model, weights=weights, runtime="openvino")
    CamEngine(warm)(images[:1])
    figures["openvino_warm_start_s"] = time.perf_counter() - start
    timings = {name: [] for name in engines}
    for _ in range(ROUNDS):
        for name, engine in engines.items():
            timings[name].append(step_ms(engine, images))
    reference = outputs["tensorflow float32"]
    for name in engines:
        maps = outputs[name].maps[:, 0].reshape(len(images), -1)
        correlations = [
            float(np.corrcoef(a, b)[0, 1])
            for a, b in zip(maps, reference.maps[:, 0].reshape(len(images), -1), strict=True)
        ]
        figures[name] = {
            "ms": float(np.median(timings[name])),
            "maps_per_s": 1000 / float(np.median(timings[name])),
            "map_correlation_min": min(correlations),
            "same_top1": float(np.mean(outputs[name].class_ids[:, 0] == reference.class_ids[:, 0])),
            "same_peak_cell": float(
                np.mean(maps.argmax(1) == reference.maps[:, 0].reshape(len(images), -1).argmax(1))
            ),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--out", type=Path, default=Path("docs/runtime.json"))
    args = parser.parse_args()
    os.environ["LIVECAM_CACHE_DIR"] = tempfile.mkdtemp(prefix="livecam-runtime-")  # cold
    frames = load_frames(str(sample_video()), args.frames)
    result = {
        "machine": machine_info(),
        "frames": len(frames),
        "lite0": compare("lite0", "imagenet", frames, ("float32",)),
        "vgg16": compare("vgg16", "none", frames[:12], ("float32", "mixed_bfloat16")),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
