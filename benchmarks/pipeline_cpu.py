"""Why the annotate pipeline cannot reach 90 % of the OpenVINO step here: the
CPU time each stage needs per frame against the cores there are.

    python benchmarks/pipeline_cpu.py [--frames 96]

lite0 on OpenVINO float32, batch 1, frames of the sample clip, one process:

- the step alone, timed per frame (wall) and in process CPU time, with
  OpenVINO's threads as livecam runs it (all cores) and with one thread (its
  least CPU per frame: no work split between threads);
- decoding, preprocessing, rendering and encoding, each run alone on one
  thread over the same frames (the pipeline's other stages, as
  ``livecam annotate`` runs them);
- the ceiling: with every core busy all the time on the least work per
  frame, the pipeline could not run faster than
  cores / (step CPU with one thread + the other stages' CPU).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

CAPTION = "monarch 91.2%"  # a caption as annotate draws


def per_frame_ms(run, items) -> tuple[float, float]:
    """Mean wall and process CPU ms per item of ``run(item)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for item in items:
        run(item)
    count = len(items)
    return (
        1000 * (time.perf_counter() - wall) / count,
        1000 * (time.process_time() - cpu) / count,
    )


def main() -> None:
    import cv2
    import openvino as ov

    from livecam import runtime
    from livecam.bench import machine_info
    from livecam.cam import CamEngine
    from livecam.frames import model_input
    from livecam.media import load_frames, write_video
    from livecam.models import load_model
    from livecam.render import HeatmapRenderer
    from livecam.samples import sample_video

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96)
    args = parser.parse_args()
    frames = load_frames(str(sample_video()), args.frames)
    model = load_model("lite0", runtime="openvino")
    engine = CamEngine(model)
    images = model_input(frames, model.input_size)
    engine(images[:1])  # compiled, cached
    figures = {"step": per_frame_ms(lambda image: engine(image[None]), images)}
    path = runtime.backbone(model, head=True, mean=True).path  # the step's model, one thread
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}  # f32, as the step
    one = ov.Core().compile_model(str(path), "CPU", config)
    codes = np.array([-1], np.int32)
    floats = images.astype(np.float32)
    one([floats[:1], codes])
    figures["step, one thread"] = per_frame_ms(lambda image: one([image[None], codes]), floats)
    maps = engine(images).maps

    with tempfile.TemporaryDirectory() as folder:
        video = write_video(Path(folder) / "in.avi", frames)
        capture = cv2.VideoCapture(str(video))
        figures["decode"] = per_frame_ms(lambda _: capture.read(), frames)
        capture.release()
        figures["preprocess"] = per_frame_ms(lambda f: model_input([f], model.input_size), frames)
        renderer = HeatmapRenderer()
        pairs = list(zip(frames, maps[:, 0], strict=True))
        figures["render"] = per_frame_ms(
            lambda pair: renderer.annotate(pair[0], pair[1], "monarch 91.2%"), pairs
        )
        height, width = frames[0].shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        writer = cv2.VideoWriter(os.path.join(folder, "out.mp4"), fourcc, 30, (width, height))
        figures["encode"] = per_frame_ms(writer.write, frames)
        writer.release()

    cores = os.cpu_count() or 1
    step_fps = 1000 / figures["step"][0]
    others = sum(figures[s][1] for s in ("decode", "preprocess", "render", "encode"))
    ceiling = 1000 * cores / (figures["step, one thread"][1] + others)
    machine = machine_info()["cpu"]
    print(f"{machine}, {cores} cores; lite0 OpenVINO float32, batch 1, {len(frames)} frames")
    print(f"{'stage':<20} {'wall ms':>8} {'CPU ms':>8}")
    for stage, (wall, cpu) in figures.items():
        print(f"{stage:<20} {wall:>8.2f} {cpu:>8.2f}")
    print(
        f"step alone {step_fps:.1f} maps/s; other stages {others:.2f} CPU ms a frame; "
        f"ceiling {ceiling:.1f} frames/s = {ceiling / step_fps:.0%} of the step (floor: 90 %)"
    )


if __name__ == "__main__":
    main()
