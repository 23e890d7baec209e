"""Scale-out figures for docs/scale-out.md: the same archive annotated by the
local engine and by the Ray engine with 1 and 2 workers, on this machine.

    python benchmarks/scale_out.py                 # ~10 minutes on 2 cores
    python benchmarks/scale_out.py --clips 8 --frames 300 --json docs/scale-out.json

Per run: wall time, frames/s over the whole job, the per-video overhead
(wall time not spent inside a worker's annotate call, per video and worker),
and the bytes read and written per frame (what shared storage must carry).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from livecam.cluster import AnnotateJob, annotate_on_ray, plan_tasks  # noqa: E402
from livecam.explain import Explainer  # noqa: E402
from livecam.media import write_video  # noqa: E402
from livecam.video import open_source  # noqa: E402
from livecam.video.annotate import annotate_video, default_output  # noqa: E402


def make_archive(folder: Path, clips: int, frames: int) -> list[Path]:
    """``clips`` real clips of ``frames`` frames (the sample clips, looped)."""
    sources = []
    for name in ("vtest.avi", "megamind.mp4", "moving_monarch.mp4"):
        with open_source(ROOT / "samples" / name) as source:
            sources.append([frame.image for frame in source])
    paths = []
    for i in range(clips):
        images = sources[i % len(sources)]
        looped = [images[k % len(images)] for k in range(frames)]
        paths.append(write_video(folder / f"cam{i:02d}.avi", looped, fps=25.0))
    return paths


def local(clips: list[Path], out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    explainer = Explainer("lite0")
    explainer.warm_up()
    load_s = time.perf_counter() - started
    frames = 0
    for clip in clips:
        summary = annotate_video(clip, default_output(clip, out), explainer)
        frames += summary.frames_written
    wall = time.perf_counter() - started
    return {"engine": "local", "workers": 1, "wall_s": wall, "frames": frames,
            "model_load_s": load_s}  # fmt: skip


def on_ray(clips: list[Path], out: Path, workers: int, cpus: float) -> dict:
    import ray

    started = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    init_s = time.perf_counter() - started
    try:
        results = annotate_on_ray(
            plan_tasks(clips, out), AnnotateJob(), workers=workers, cpus_per_worker=cpus
        )
    finally:
        ray.shutdown()
    wall = time.perf_counter() - started
    frames = sum(r.frames for r in results)
    busy = sum(r.seconds for r in results) / workers  # per worker, inside annotate calls
    return {
        "engine": "ray",
        "workers": workers,
        "cpus_per_worker": cpus,
        "wall_s": wall,
        "frames": frames,
        "ray_init_s": init_s,
        "overhead_per_video_s": (wall - busy) / (len(clips) / workers),
        "failed": sum(r.status != "done" for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = make_archive(folder, args.clips, args.frames)
        read_bytes = sum(p.stat().st_size for p in clips)
        for name, run in (
            ("local", lambda out: local(clips, out)),
            ("ray, 1 worker x 2 CPUs", lambda out: on_ray(clips, out, 1, 2)),
            ("ray, 2 workers x 1 CPU", lambda out: on_ray(clips, out, 2, 1)),
        ):
            out = folder / name.replace(" ", "_").replace(",", "")
            row = {"run": name, **run(out)}
            written = sum(p.stat().st_size for p in out.iterdir())
            row["fps"] = row["frames"] / row["wall_s"]
            row["read_bytes_per_frame"] = read_bytes / row["frames"]
            row["written_bytes_per_frame"] = written / row["frames"]
            rows.append(row)
            print(
                json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}),
                flush=True,
            )
    local_fps = rows[0]["fps"]
    for row in rows[1:]:
        print(f"{row['run']}: {row['fps'] / local_fps:.0%} of the local engine's throughput")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
