"""The standard benchmark matrix; writes docs/benchmarks.md.

    python benchmarks/run_suite.py            # ~10 minutes on 2 cores

Ratios are what to compare: each row's CAM step, pipeline and baselines ran
in the same process on the same frames, one after the other.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from livecam.bench import BenchConfig, machine_info, markdown_table, run_matrix, table_row
from livecam.samples import sample_video

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python benchmarks/run_suite.py"

# name, weights, size, precision, batch, baselines?
MATRIX = [
    ("lite0", "imagenet", None, "float32", 1, True),
    ("lite0", "imagenet", None, "float32", 8, False),
    ("lite0", "imagenet", 160, "float32", 1, False),
    ("lite0", "imagenet", 128, "float32", 1, False),
    ("lite0", "imagenet", None, "mixed_bfloat16", 1, False),
    ("lite0", "imagenet", None, "mixed_float16", 1, False),
    ("mobilenet_v2", "none", None, "float32", 1, True),
    ("mobilenet_v2", "none", None, "float32", 8, False),
    ("mobilenet_v2", "none", 160, "float32", 1, False),
    ("mobilenet_v2", "none", 128, "float32", 1, False),
    ("vgg16", "none", None, "float32", 1, True),
    ("vgg16", "none", None, "float32", 8, False),
    ("vgg16", "none", None, "mixed_bfloat16", 1, False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks.json")
    args = parser.parse_args()
    source = str(sample_video())
    results = []
    started = time.time()
    for name, weights, size, precision, batch, baselines in MATRIX:
        config = BenchConfig(name, weights, "gradcam", size, precision, batch)
        chosen = ("eager", "tf-keras-vis") if baselines else ()
        [result] = run_matrix([config], source, args.frames, chosen)
        results.append(result)
        print("  ".join(table_row(result)), file=sys.stderr, flush=True)
    machine = machine_info()
    args.json.write_text(
        json.dumps(
            {"machine": machine, "frames": args.frames, "results": [r.to_json() for r in results]},
            indent=1,
        )
    )
    args.out.write_text(render(machine, results, args.frames, time.time() - started))
    print(f"wrote {args.out} and {args.json}", file=sys.stderr)


def render(machine: dict, results: list, frames: int, seconds: float) -> str:
    return f"""# Benchmarks

(TensorFlow against OpenVINO below the CAM layer: [runtime.md](runtime.md), from
`python benchmarks/runtime_figures.py`.)

Produced by `{COMMAND}` in {seconds / 60:.0f} minutes on: {machine["cpu"]},
{machine["cores"]} cores, no GPU, Python {machine["python"]},
TensorFlow {machine["tensorflow"]}, Keras {machine["keras"]}, OpenCV {machine["opencv"]},
oneDNN {machine["onednn"]}.

Each row: {frames} frames of the bundled 640x480 clip (`samples/moving_monarch.mp4`, looped),
Grad-CAM of the top-1 class. `vgg16` and `mobilenet_v2` use random weights (`--weights
none`: the timing is the same, and no download is possible here).

- **warm-up s**: tracing and first run of the compiled step, timed apart.
- **cam p50/p95 ms**, **cam fps**: the compiled CAM step alone (forward, gradient, map) per
  frame, on frames already decoded and resized.
- **pipeline fps**: the whole threaded pipeline, `livecam annotate`'s path: decode (reader
  thread, which also resizes) -> CAM step -> render + encode (writer thread); **pipe/cam** is
  its share of the CAM-step-only rate.
- **eager fps / x eager**: the tutorial's way on the same frames: `model.predict` plus a fresh
  eager `GradientTape` per frame. **tkv**: tf-keras-vis 0.8.7 `Gradcam` on the same model and
  layer; **tkv corr** is the correlation of its maps with ours (1.000 = the same maps).
- **RSS MB**: peak resident memory of the process during the row (it includes earlier rows'
  models). **traces**: how many times the step was traced (1 = once for the whole run).

{markdown_table(results)}
"""


if __name__ == "__main__":
    main()
