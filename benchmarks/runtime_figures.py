"""TensorFlow against OpenVINO below the CAM layer: maps per second of the
Grad-CAM step, fidelity of the maps, start-up cold and warm; one process, the
same frames, the runtimes alternating so a noisy neighbour hits both.

    python benchmarks/runtime_figures.py [--frames 48] [--out docs/runtime.json]

writes the figures as JSON and the table in docs/runtime.md.

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
    """Every precision on both runtimes, from one loaded model (the same weights)."""
    from dataclasses import replace

    import keras

    from livecam import runtime
    from livecam.cam import CamEngine
    from livecam.models import load_model

    keras.utils.set_random_seed(0)
    base = load_model(model, weights=weights)
    images = model_input(frames, base.input_size)
    engines = {f"tensorflow {p}": CamEngine(base.variant(precision=p)) for p in precisions}
    start = time.perf_counter()  # convert, compile, trace: the model's load excluded
    on_openvino = replace(base, runtime="openvino")
    CamEngine(on_openvino)(images[:1])
    figures = {"openvino_first_start_s": time.perf_counter() - start}
    start = time.perf_counter()
    CamEngine(replace(base, runtime="openvino"))(images[:1])  # a new model object: the cache
    figures["openvino_cached_start_s"] = time.perf_counter() - start
    for precision in precisions:
        if precision == "float32" or runtime.has_bfloat16("openvino"):
            variant = on_openvino.variant(precision=precision)
            engines[f"openvino {precision}"] = CamEngine(variant)
    outputs = {name: engine(images) for name, engine in engines.items()}
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


def markdown(result: dict) -> str:
    machine = result["machine"]
    lines = [
        "# Runtimes: TensorFlow and OpenVINO below the CAM layer",
        "",
        f"`python benchmarks/runtime_figures.py` on {machine['cpu']}, {machine['cores']} cores, "
        f"TensorFlow {machine['tensorflow']}: Grad-CAM, batch 1, 224 px, frames of the sample "
        f"clip ({result['frames']} for lite0, 12 for VGG16 with random weights), one process, "
        "the configurations alternating over 3 rounds; medians. Fidelity against TensorFlow "
        "float32 on the same frames.",
        "",
        "| model | runtime, precision | ms per map | maps/s | vs TensorFlow float32 "
        "| map correlation (min) | same top-1 | same peak cell |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in ("lite0", "vgg16"):
        figures = result[model]
        reference = figures["tensorflow float32"]["ms"]
        for name, row in figures.items():
            if not isinstance(row, dict):
                continue
            lines.append(
                f"| {model} | {name} | {row['ms']:.1f} | {row['maps_per_s']:.1f} "
                f"| {reference / row['ms']:.2f}x | {row['map_correlation_min']:.4f} "
                f"| {row['same_top1']:.0%} | {row['same_peak_cell']:.0%} |"
            )
    lines += [
        "",
        "Start-up of the OpenVINO path (conversion, compilation and the step's trace; the "
        "Keras model's load excluded):",
        "",
        *(
            f"- {model}: first {result[model]['openvino_first_start_s']:.1f} s, from the cache "
            f"{result[model]['openvino_cached_start_s']:.1f} s"
            for model in ("lite0", "vgg16")
        ),
        "",
    ]
    return "\n".join(lines)


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
        "lite0": compare("lite0", "imagenet", frames, ("float32", "mixed_bfloat16")),
        "vgg16": compare("vgg16", "none", frames[:12], ("float32", "mixed_bfloat16")),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
