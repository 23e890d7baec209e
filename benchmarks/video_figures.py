"""End-to-end video figures: live stream fps, the governor, batching, smoothing.

    python benchmarks/video_figures.py

Serves a 640x480 MJPEG stream on 127.0.0.1 (the tests' server), runs the live
loop against it, annotates a file with --batch 1 and 8, and measures flicker
(mean absolute change of consecutive maps) with and without --smooth.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


from livecam.cam.targets import top  # noqa: E402
from livecam.explain import Explainer  # noqa: E402
from livecam.models import load_model  # noqa: E402
from livecam.render import HeatmapRenderer  # noqa: E402
from livecam.video import open_source  # noqa: E402
from livecam.video.annotate import annotate_video  # noqa: E402
from livecam.video.display import Display  # noqa: E402
from livecam.video.live import ExplainerCache, LiveRunner  # noqa: E402
from livecam.video.pipeline import MapSmoother  # noqa: E402
from mjpeg_server import MjpegServer  # noqa: E402

STREAM_SECONDS = 30


def live(model_spec: str, weights: str, fps_target: float | None, seconds: float) -> str:
    """Run the live loop on the stream; fps held = frames in the second half / its length."""
    bundle = load_model(model_spec, weights=weights)
    cache = ExplainerCache(bundle, "gradcam", top(1), "logit")
    runner = LiveRunner(
        cache, HeatmapRenderer(), fps_target=fps_target, display=Display(enabled=False)
    )
    with (
        MjpegServer(ROOT / "samples" / "megamind.mp4", fps=30) as server,
        tempfile.TemporaryDirectory() as folder,
    ):
        source = open_source(server.url)
        log = Path(folder) / "live.jsonl"
        try:
            summary = runner.run(
                source, record=Path(folder) / "rec.mp4", log_path=log, duration=seconds
            )
        finally:
            source.close()
        records = [json.loads(line) for line in log.read_text().splitlines()]
    half = summary.elapsed_s / 2
    held = sum(r["time_s"] >= half for r in records) / (summary.elapsed_s - half)
    changes = [r["time_s"] for a, r in itertools.pairwise(records) if a["quality"] != r["quality"]]
    settled = f"settled at {changes[-1]:.0f} s" if changes else "no change"
    return (
        f"{model_spec} ({weights} weights) fps target {fps_target}: {summary.fps:.1f} fps over "
        f"{summary.elapsed_s:.0f} s, {held:.1f} fps held in the second half; level "
        f"{summary.quality} ({settled}); {summary.dropped} stream frames dropped"
    )


def batching() -> str:
    explainer = Explainer("lite0")
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        for batch in (1, 8, 1, 8):
            summary = annotate_video(
                ROOT / "samples" / "vtest.avi",
                Path(folder) / f"{batch}.avi",
                explainer,
                batch=batch,
                overwrite=True,
            )
            rates.setdefault(batch, []).append(summary.fps)
    one, eight = np.mean(rates[1]), np.mean(rates[8])
    ratio = eight / one
    return f"annotate vtest 768x576: batch 1 {one:.1f} fps, batch 8 {eight:.1f} fps ({ratio:.2f}x)"


def flicker() -> str:
    explainer = Explainer("lite0")
    with open_source(ROOT / "samples" / "megamind.mp4") as source:
        maps = [explainer.explain_one(f.image).targets[0].heatmap for f in source]

    def change(sequence) -> float:
        return float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(sequence)]))

    parts = [f"flicker on megamind.mp4: raw {change(maps):.4f}"]
    for alpha in (0.5, 0.8):
        smoother = MapSmoother(alpha)
        parts.append(f"smooth {alpha} {change([smoother(m) for m in maps]):.4f}")
    return ", ".join(parts)


if __name__ == "__main__":
    started = time.time()
    for line in (
        live("lite0", "imagenet", None, 30),
        live("vgg16", "none", 15, 90),
        batching(),
        flicker(),
    ):
        print(line, flush=True)
    print(f"({time.time() - started:.0f} s)")
