"""docs/methods.md: every CAM method on the bundled labelled set (pointing,
deletion, insertion, ROAD) and its frame rate for lite0 at 224 on this machine.

    python benchmarks/methods_table.py                       # ~15 minutes on 2 cores
    python benchmarks/methods_table.py --eval-json eval.json # reuse a `livecam eval --json`

The evaluation is `livecam eval samples/eval --annotations samples/eval/instances.json
--method <all> --max-channels 64 --json`; the frame rates come from the compiled
step alone (`livecam bench --method <all> --max-channels 64`), in one run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from livecam.bench import BenchConfig, load_frames, machine_info
from livecam.bench.runner import bench_config
from livecam.cam import METHODS
from livecam.samples import sample_video

ROOT = Path(__file__).resolve().parents[1]
MAX_CHANNELS = 64
EVAL_COMMAND = (
    "livecam eval samples/eval --annotations samples/eval/instances.json "
    f"--method {','.join(METHODS)} --max-channels {MAX_CHANNELS} --json"
)


def evaluation() -> dict:
    from livecam.evaluate import evaluate, load_annotations
    from livecam.explain import MethodOptions
    from livecam.models import load_model

    dataset = load_annotations(ROOT / "samples/eval/instances.json", ROOT / "samples/eval")
    report = evaluate(
        dataset,
        load_model("lite0"),
        list(METHODS),
        method_options=MethodOptions(max_channels=MAX_CHANNELS),
    )
    return report.to_json()


def frame_rates(frames: int) -> dict[str, float]:
    clip = load_frames(str(sample_video()), frames)
    rates = {}
    for name in METHODS:
        config = BenchConfig("lite0", "imagenet", name, None, "float32", 1, MAX_CHANNELS)
        rates[name] = bench_config(config, clip).cam_fps
        print(f"{name}: {rates[name]:.1f} maps/s", file=sys.stderr, flush=True)
    return rates


def cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(report: dict, rates: dict[str, float]) -> str:
    gradcam = rates["gradcam"]
    lines = [
        "| method | pointing | deletion AUC ↓ | insertion AUC ↑ | ROAD ↑ | maps/s | vs Grad-CAM |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [*report["methods"].items(), *((f"({k})", v) for k, v in report["baselines"].items())]
    for name, scores in rows:
        rate = rates.get(name)
        lines.append(
            f"| {name} | {cell(scores['pointing'], '.3f')} | {cell(scores['deletion_auc'], '.4f')}"
            f" | {cell(scores['insertion_auc'], '.4f')} | {cell(scores['road'], '.4f')}"
            f" | {cell(rate, '.1f')} | {cell(rate / gradcam if rate else None, '.0%')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-json", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "methods.md")
    args = parser.parse_args()
    report = json.loads(args.eval_json.read_text()) if args.eval_json else evaluation()
    rates = frame_rates(args.frames)
    machine = machine_info()
    flagged = "\n".join(f"- {flag}" for flag in report["flagged"]) or "- none"
    args.out.write_text(
        f"""# CAM methods compared

{report["images"]} composed images with {sum(report["classes"].values())} labelled objects
(`samples/eval/`, made by `scripts/make_eval_set.py` from OpenCV's sample photos: a monarch,
an orange, a fox squirrel, a baboon and a Granny Smith apple pasted on real backgrounds), the
bundled `lite0` at 224, each annotated class explained. Machine: {machine["cpu"]},
{machine["cores"]} cores, TensorFlow {machine["tensorflow"]}. Score-CAM scores its
{MAX_CHANNELS} most active channels.

Commands: `{EVAL_COMMAND}`, and for the frame rate of the compiled step alone (48 frames of the
sample clip), `python benchmarks/methods_table.py` (which runs both).

{table(report, rates)}

Baselines in parentheses. Flagged (a method worse than a baseline on a metric):

{flagged}

Comparing these numbers with other tools: livecam normalises a map by ReLU then division by
its maximum (as the Grad-CAM paper and the Keras tutorial do), so a map's zero stays "no
evidence"; pytorch-grad-cam scales each map min-to-max instead, which stretches a map whose
smallest value is above zero. Deletion, insertion and ROAD rank pixels and do not change with
it; pointing does not either; the energy in a box and any threshold on the map do.
"""
    )
    print(args.out.read_text())


if __name__ == "__main__":
    main()
