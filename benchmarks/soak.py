"""Soak test: thousands of frames through `annotate`, memory sampled as it goes.

    python benchmarks/soak.py --frames 5000

Reports resident memory every 500 frames, its growth after warm-up, and the
number of traces of the compiled step. Exits 1 unless memory grows less than
--max-growth-mb (50) after warm-up (the first --every frames) and the step was
traced exactly once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from livecam.bench import rss_mb
from livecam.explain import Explainer
from livecam.media import write_video
from livecam.samples import sample_video
from livecam.video import open_source
from livecam.video.annotate import annotate_video


def looped_clip(path: Path, frames: int) -> Path:
    """The sample clip played back and forth to ``frames`` frames (MJPG, 15 fps)."""
    with open_source(sample_video()) as source:
        clip = [frame.image for frame in source]
    bounce = clip + clip[::-1]
    return write_video(path, (bounce[i % len(bounce)] for i in range(frames)), fps=15.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    args = parser.parse_args()
    samples: list[tuple[int, float]] = []

    def progress(done: int, _total) -> None:
        if done // args.every > len(samples) - 1 or not samples:
            samples.append((done, rss_mb()))
            print(f"{done:6d} frames  {samples[-1][1]:8.1f} MB", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as folder:
        source = looped_clip(Path(folder) / "soak.avi", args.frames)
        explainer = Explainer("lite0")
        summary = annotate_video(
            source, Path(folder) / "out.avi", explainer, batch=args.batch, progress=progress
        )
    after_warmup = samples[1][1] if len(samples) > 1 else samples[0][1]
    growth = max(mb for _, mb in samples[1:]) - after_warmup if len(samples) > 1 else 0.0
    print(
        f"frames {summary.frames_written}, {summary.fps:.1f} fps, traces "
        f"{explainer.engine.trace_count}, RSS at {samples[1][0]} frames {after_warmup:.1f} MB, "
        f"growth after that {growth:+.1f} MB"
    )
    traces = explainer.engine.trace_count
    if growth >= args.max_growth_mb or traces != 1:
        print(
            f"FAILED: growth {growth:+.1f} MB (limit {args.max_growth_mb:g}), traces {traces} "
            "(must be 1)",
            file=sys.stderr,
        )
        sys.exit(1)
    print("passed: memory flat and one trace", file=sys.stderr)


if __name__ == "__main__":
    main()
