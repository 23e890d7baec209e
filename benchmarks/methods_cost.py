"""The cost of every CAM method beyond the bare forward pass (the measure
torchcam publishes), for Lite0, MobileNetV3-Large and ResNet50 at 224 px,
batch 1, on the sample clip's frames; written to docs/methods.md.

    python benchmarks/methods_cost.py [--frames 16] [--out docs/methods.md]

(benchmarks/methods_table.py makes the table of scores above it in docs/methods.md.)

The forward pass is the model alone, compiled and traced once like the CAM
step, on the same frames in the same process. Score-CAM scores its 64 most
active channels (--max-channels 64). MobileNetV3-Large and ResNet50 run with
random weights (nothing is downloaded): the cost does not depend on them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livecam.bench import BenchConfig, machine_info
from livecam.bench.runner import bench_config
from livecam.cam import METHODS
from livecam.errors import MethodError
from livecam.media import load_frames
from livecam.samples import sample_video

MODELS = (("lite0", "imagenet"), ("mobilenet_v3_large", "none"), ("resnet50", "none"))
SCORECAM_CHANNELS = 64
BEGIN, END = "<!-- methods-cost:begin -->", "<!-- methods-cost:end -->"


def measure(frames: int) -> tuple[dict, list[list[str]]]:
    images = load_frames(str(sample_video()), frames)
    rows = []
    for model, weights in MODELS:
        for method in METHODS:
            channels = SCORECAM_CHANNELS if method == "scorecam" else None
            config = BenchConfig(model, weights, method, 224, max_channels=channels)
            try:
                result = bench_config(config, images, pipeline=False)
            except MethodError as exc:  # cam needs a GAP -> Dense head
                rows.append([model, method, "-", "-", "-", "-"])
                print(f"{model} {method}: {exc}", file=sys.stderr, flush=True)
                continue
            rows.append(
                [
                    model,
                    method + (f" ({channels} ch)" if channels else ""),
                    f"{result.forward_ms['p50']:.1f}",
                    f"{result.cam_ms['p50']:.1f}",
                    f"{result.beyond_forward_ms:.1f}",
                    f"{1000 / result.cam_ms['p50']:.1f}",
                ]
            )
            print("  ".join(rows[-1]), file=sys.stderr, flush=True)
    return machine_info(), rows


def markdown(machine: dict, rows: list[list[str]], frames: int) -> str:
    header = ["model", "method", "forward ms", "CAM step ms", "beyond forward ms", "maps/s"]
    lines = [
        BEGIN,
        "Measured by `python benchmarks/methods_cost.py` (also run by "
        f"`benchmarks/methods_table.py`) on {machine['cpu']}, "
        f"{machine['cores']} cores, TensorFlow {machine['tensorflow']}: 224 px, batch 1, "
        f"medians over {frames} frames of the sample clip, one process.",
        "A dash: the method does not apply to the model (`cam` needs global average pooling",
        "then one dense layer).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("docs/methods.md"))
    arguments = parser.parse_args()
    machine, rows = measure(arguments.frames)
    table = markdown(machine, rows, arguments.frames)
    print(table)
    text = arguments.out.read_text() if arguments.out.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + table + text[text.index(END) + len(END) :]
    else:
        text += "\n## Cost beyond the forward pass\n\n" + table + "\n"
    arguments.out.write_text(text)


if __name__ == "__main__":
    main()
