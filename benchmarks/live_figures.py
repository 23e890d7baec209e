"""The live loop's floors, measured: video pace, maps per second, map age,
how fast the governor settles (cold and warm cache), how it rides out a CPU
hog, and whether a recording keeps wall time.

    python benchmarks/live_figures.py              # ~3 minutes on 2 cores
    python benchmarks/live_figures.py --seconds 30 --json docs/live.json

Source: the tests' 30 fps 640x480 MJPEG stream on 127.0.0.1, headless.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from livecam.cam import top  # noqa: E402
from livecam.models import load_model  # noqa: E402
from livecam.render import HeatmapRenderer  # noqa: E402
from livecam.tuning.governor import CostCache  # noqa: E402
from livecam.video import open_source  # noqa: E402
from livecam.video.display import Display  # noqa: E402
from livecam.video.live import ExplainerCache, LiveRunner  # noqa: E402
from mjpeg_server import MjpegServer  # noqa: E402
from test_video import count_frames  # noqa: E402


def run(bundle, fps_target, seconds, cache_file: Path, folder: Path, hog=None) -> dict:
    """One live run; returns the log records, the summary and the wall times."""
    cache = ExplainerCache(bundle, "gradcam", top(1), "logit")
    runner = LiveRunner(
        cache,
        HeatmapRenderer(),
        fps_target=fps_target,
        display=Display(enabled=False),
        cost_cache=CostCache(cache_file),
    )
    log, record = folder / "live.jsonl", folder / "live.mp4"
    for path in (log, record):
        path.unlink(missing_ok=True)
    with MjpegServer(ROOT / "samples" / "megamind.mp4", fps=30) as server:
        source = open_source(server.url)
        if hog is not None:
            # Trace first, so the hog's clock and the run's (first frame) nearly agree.
            cache.get(runner.level).warm_up()
            hog(time.perf_counter())
        started = time.perf_counter()
        try:
            summary = runner.run(source, record=record, log_path=log, duration=seconds)
        finally:
            source.close()
        wall = time.perf_counter() - started
    records = [json.loads(line) for line in log.read_text().splitlines()]
    frames, fps, _ = count_frames(record)
    return {
        "records": records,
        "summary": summary,
        "wall_s": wall,
        "recorded_s": frames / fps,
        "recorded_frames": frames,
        "changes": runner.governor.changes if runner.governor else 0,
    }


def window(records: list[dict], start: float, end: float = float("inf")) -> dict:
    """Video fps, maps per second and p99 map age between two capture times."""
    inside = [r for r in records if start <= r["time_s"] < end]
    if len(inside) < 2:
        return {"video_fps": 0.0, "maps_per_s": 0.0, "map_age_p99_ms": None}
    span = inside[-1]["time_s"] - inside[0]["time_s"]
    maps = len({r["map_seq"] for r in inside})
    return {
        "video_fps": round((len(inside) - 1) / span, 1),
        "maps_per_s": round(maps / span, 1),
        "map_age_p99_ms": round(float(np.percentile([r["map_age_ms"] for r in inside], 99)), 0),
    }


def settled_at(records: list[dict]) -> float | None:
    """Capture time of the first frame at the last level the run used."""
    last = records[-1]["quality"]
    changes = [r["time_s"] for r in records if r["quality"] != last]
    return None if not changes else max(changes)


def transitions(records: list[dict]) -> list[tuple[float, str]]:
    """``(capture time, level)`` of the first frame at each level the run used."""
    changes: list[tuple[float, str]] = []
    for r in records:
        if not changes or changes[-1][1] != r["quality"]:
            changes.append((round(r["time_s"], 2), r["quality"]))
    return changes


def describe(name: str, result: dict, extra: dict) -> dict:
    summary = result["summary"]
    row = {
        "run": name,
        "video_fps": round(summary.fps, 1),
        "p99_frame_interval_ms": round(summary.frame_interval_p99_ms or 0, 0),
        "maps_per_s": round(summary.maps_per_s or 0, 1),
        "level": summary.quality,
        "level_changes": result["changes"],
        "recorded_vs_run": round(result["recorded_s"] / summary.elapsed_s, 3),
        "recorded_frames": result["recorded_frames"],
        **extra,
        "levels": transitions(result["records"]),
    }
    print(json.dumps(row), flush=True)
    return row


def cpu_hog(start_after: float, stop_after: float):
    """A busy process from ``start_after`` to ``stop_after`` seconds into the run."""

    def schedule(t0: float) -> None:
        def body() -> None:
            time.sleep(max(0.0, t0 + start_after - time.perf_counter()))
            process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(max(0.0, t0 + stop_after - time.perf_counter()))
            process.kill()
            process.wait()

        threading.Thread(target=body, daemon=True).start()

    return schedule


RUNS = ("cold", "warm", "lite0", "hog-vgg16", "hog-lite0", "runtimes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--runs",
        default=",".join(RUNS),
        help=f"comma-separated subset of {','.join(RUNS)} (warm needs cold)",
    )
    args = parser.parse_args()
    runs = set(args.runs.split(","))
    if not runs <= set(RUNS) or ("warm" in runs and "cold" not in runs):
        parser.error(f"--runs takes a subset of {','.join(RUNS)}, warm with cold")
    rows = []
    vgg = load_model("vgg16", weights="none")
    lite0 = load_model("lite0")
    with tempfile.TemporaryDirectory() as tmp:
        folder, cache_file = Path(tmp), Path(tmp) / "governor.json"
        if "cold" in runs:
            rows.extend(vgg_cold_and_warm(vgg, args.seconds, cache_file, folder, "warm" in runs))
        if "lite0" in runs:
            full = run(lite0, None, args.seconds, cache_file, folder)
            rows.append(describe("lite0, full quality", full, {"all": window(full["records"], 0)}))
        for bundle, target in ((vgg, 15), (lite0, 25)):
            if f"hog-{bundle.name}" in runs:
                hogged = run(bundle, target, args.seconds, cache_file, folder, hog=cpu_hog(10, 20))
                rows.append(hog_row(f"{bundle.name} --fps-target {target}", hogged))
        if "runtimes" in runs:
            rows.extend(runtime_levels(vgg, args.seconds, folder))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


def runtime_levels(vgg, seconds: float, folder: Path, targets=(15, 25)) -> list:
    """VGG16 --fps-target 15 and 25 on each runtime, after a first run that fills
    the caches (the governor's costs, OpenVINO's conversions, the fidelity gate)."""
    from dataclasses import replace

    rows = []
    for target in targets:
        for name in ("tensorflow", "openvino"):
            bundle = replace(vgg, runtime=name)
            cache_file = folder / f"governor-{name}.json"
            run(bundle, target, seconds, cache_file, folder)
            warm = run(bundle, target, seconds, cache_file, folder)
            extra = {"from_2s": window(warm["records"], 2.0)}
            label = f"vgg16 --fps-target {target} --runtime {name}, warm caches"
            rows.append(describe(label, warm, extra))
    return rows


def vgg_cold_and_warm(vgg, seconds: float, cache_file: Path, folder: Path, warm: bool) -> list:
    cold = run(vgg, 15, seconds, cache_file, folder)
    records = cold["records"]
    rows = [
        describe(
            "vgg16 --fps-target 15, cold cache",
            cold,
            {"settled_at_s": settled_at(records), "from_5s": window(records, 5.0)},
        )
    ]
    if warm:
        warm_run = run(vgg, 15, seconds, cache_file, folder)
        records = warm_run["records"]
        rows.append(
            describe(
                "vgg16 --fps-target 15, warm cache",
                warm_run,
                {"settled_at_s": settled_at(records), "from_2s": window(records, 2.0)},
            )
        )
    return rows


def hog_row(name: str, hogged: dict) -> dict:
    """Levels and rates before, during and after a CPU hog from 10 to 20 s."""
    records = hogged["records"]
    during = {r["quality"] for r in records if 12 <= r["time_s"] < 20}
    before = [r for r in records if r["time_s"] < 10][-1]["quality"]
    back = [r["time_s"] for r in records if r["time_s"] >= 20 and r["quality"] == before]
    return describe(
        f"{name}, CPU hog 10-20 s",
        hogged,
        {
            "before_hog": window(records, 2, 10),
            "during_hog": window(records, 10, 20),
            "after_hog": window(records, 20),
            "level_before_hog": before,
            "levels_during_hog": sorted(during),
            "back_at_that_level_s": back[0] if back else None,
        },
    )


if __name__ == "__main__":
    main()
