"""TensorFlow against OpenVINO: maps per second of the Grad-CAM step, fidelity
of the maps (on the frames, and the fidelity gate's verdict on the labelled
photos), start-up cold and warm, the pipeline's share of the step; one process,
the same frames, the configurations alternating so a noisy neighbour hits all.

    python benchmarks/runtime_figures.py [--frames 48] [--out docs/runtime.json]

writes the figures as JSON, the table in docs/runtime.md and the issue's
floors between the markers in docs/benchmarks.md.

lite0 with its real weights; VGG16 with random weights (nothing is downloaded:
the cost does not depend on them), against TensorFlow float32 and
mixed_bfloat16 (its best step). OpenVINO runs float32, bfloat16 (where the CPU
has it) and int8 (NNCF, calibrated on the bundled samples).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from livecam.bench import machine_info
from livecam.frames import model_input
from livecam.media import load_frames
from livecam.samples import sample_video
from livecam.tuning import fidelity

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
    for precision in ("float32", *runtime.faster_precisions("openvino")):
        variant = on_openvino.variant(precision=precision)
        engines[f"openvino {precision}"] = CamEngine(variant)
    gate = {
        name: fidelity.check(engine.model, "gradcam", engine.model.precision).to_json()
        for name, engine in engines.items()
        if name != "tensorflow float32"
    }
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
            "gate": gate.get(name),
        }
    return figures


def pipeline_share(frames: list, batch: int) -> dict:
    """lite0 on OpenVINO float32: the annotate pipeline's rate over the step's."""
    from livecam.bench.runner import BenchConfig, bench_config

    result = bench_config(BenchConfig(runtime="openvino", batch=batch), frames)
    return {
        "cam_fps": result.cam_fps,
        "pipeline_fps": result.pipeline_fps,
        "share": result.pipeline_vs_cam,
        "stages_ms": result.pipeline_stages_ms,
    }


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
        "| map correlation (min) | same top-1 | same peak cell | fidelity gate |",
        "|---|---|---|---|---|---|---|---|---|",
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
                f"| {row['same_top1']:.0%} | {row['same_peak_cell']:.0%} | {_verdict(row)} |"
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


def _verdict(row: dict) -> str:
    gate = row.get("gate")
    if gate is None:
        return "reference"
    pointing = "" if gate["pointing"] is None else f", pointing {gate['pointing']:.3f}"
    if gate["admitted"]:
        return f"admitted (r={gate['correlation']:.3f}{pointing})"
    return f"refused: {gate['reason']}"


def best(figures: dict, runtime: str, admitted_only: bool) -> tuple[str, float]:
    """The fastest configuration of ``runtime`` (admitted by the gate, if asked)."""
    rows = {
        name: row["ms"]
        for name, row in figures.items()
        if isinstance(row, dict)
        and name.startswith(runtime)
        and (not admitted_only or row["gate"] is None or row["gate"]["admitted"])
    }
    name = min(rows, key=rows.get)
    return name, rows[name]


def floors(result: dict) -> str:
    """The issue's floors, measured in this one run."""
    lite0, vgg16 = result["lite0"], result["vgg16"]
    tf32 = lite0["tensorflow float32"]["ms"]
    ov32 = lite0["openvino float32"]
    lite_best, lite_best_ms = best(lite0, "openvino", admitted_only=True)
    tf_best, tf_best_ms = best(vgg16, "tensorflow", admitted_only=False)
    vgg_best, vgg_best_ms = best(vgg16, "openvino", admitted_only=True)
    pipes = result["pipeline"]

    def row(floor: str, measured: str, ratio: float, needed: float, shown: str = "") -> str:
        verdict = "met" if ratio >= needed else "NOT met"
        return f"| {floor} | {measured} | {shown or f'{ratio:.2f}x'} | {verdict} |"

    lines = [
        f"Measured by `python benchmarks/runtime_figures.py` on {result['machine']['cpu']}, "
        f"{result['machine']['cores']} cores, in one run (details: [runtime.md](runtime.md)).",
        "",
        "| floor | measured | ratio | |",
        "|---|---|---|---|",
        row(
            "lite0 OpenVINO float32 >= 1.6x TensorFlow float32",
            f"{ov32['ms']:.1f} against {tf32:.1f} ms (correlation min "
            f"{ov32['map_correlation_min']:.4f})",
            tf32 / ov32["ms"],
            1.6,
        ),
        row(
            "lite0 best admitted precision >= 2.5x TensorFlow float32",
            f"{lite_best}: {lite_best_ms:.1f} against {tf32:.1f} ms",
            tf32 / lite_best_ms,
            2.5,
        ),
        row(
            "VGG16 best admitted >= 1.5x TensorFlow's best step",
            f"{vgg_best}: {vgg_best_ms:.1f} against {tf_best} {tf_best_ms:.1f} ms",
            tf_best_ms / vgg_best_ms,
            1.5,
        ),
        *(
            row(
                f"pipeline >= 90 % of the step, lite0 OpenVINO float32, batch {batch}",
                f"{pipe['pipeline_fps']:.1f} of {pipe['cam_fps']:.1f} maps/s",
                pipe["share"],
                0.9,
                f"{pipe['share']:.0%}",
            )
            for batch, pipe in pipes.items()
        ),
    ]
    return "\n".join(lines)


def write_between_markers(path: Path, text: str, name: str) -> None:
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    document = path.read_text()
    if start not in document:
        document = document.rstrip() + f"\n\n## Runtimes: the floors\n\n{start}\n{end}\n"
    before, rest = document.split(start, 1)
    after = rest.split(end, 1)[1]
    path.write_text(f"{before}{start}\n{text}\n{end}{after}")


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
        "pipeline": {batch: pipeline_share(frames, batch) for batch in (1, 8)},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    write_between_markers(args.out.parent / "benchmarks.md", floors(result), "runtime-floors")
    print(markdown(result))
    print(floors(result))


if __name__ == "__main__":
    main()
