"""Resident memory while a page picks one class after another (issue 21, item 12).

Each change goes the way a POST /api/control does (``WebSession.control``), then
the CAM thread's next step runs (``LiveRunner._choose`` and the compiled step),
on VGG16 with random weights at a reduced level (160 px, the explainers being
model variants there). Prints RSS every 10 changes; exit 1 when it grows more
than ``--max-growth-mb`` after the first ``--settle`` changes.

    python benchmarks/class_storm_rss.py --changes 200 --json docs/class-storm.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--settle", type=int, default=10)
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from livecam.cam.targets import top
    from livecam.models import load_model
    from livecam.models.labels import short_label
    from livecam.render import HeatmapRenderer
    from livecam.tuning.governor import QualityLevel
    from livecam.video.explainers import ExplainerCache
    from livecam.video.live import LiveRunner
    from livecam.web.hub import FrameHub
    from livecam.web.session import WebSession

    model = load_model(args.model, weights="none")
    runner = LiveRunner(ExplainerCache(model, "gradcam", top(1), "logit"), HeatmapRenderer())
    runner.level = QualityLevel(args.size)
    session = WebSession(runner, FrameHub())
    frame = np.random.default_rng(0).integers(0, 256, (1, args.size, args.size, 3), np.uint8)
    curve = []
    for change in range(args.changes + 1):
        if change:
            session.control({"target": short_label(model.labels[(change * 37) % 1000])})
        explainer, _, _ = runner._choose()
        explainer.explain_batch(frame)
        if change % 10 == 0:
            variants, engines = runner.cache.sizes
            curve.append({"changes": change, "rss_mb": round(rss_mb(), 1)})
            print(f"{change:4d} changes  RSS {rss_mb():7.1f} MB  kept {variants} variants, "
                  f"{engines} steps", flush=True)  # fmt: skip
    settled = next(point["rss_mb"] for point in curve if point["changes"] >= args.settle)
    growth = curve[-1]["rss_mb"] - settled
    result = {"model": args.model, "size": args.size, "curve": curve, "growth_mb": growth}
    print(f"growth after {args.settle} changes: {growth:+.1f} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if growth > args.max_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
