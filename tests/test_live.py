import json
import time

import pytest

from livecam.cam.targets import top
from livecam.models import load_model
from livecam.render import HeatmapRenderer
from livecam.video import open_source
from livecam.video.display import Display
from livecam.video.live import ExplainerCache, LiveRunner
from mjpeg_server import MjpegServer
from test_video import count_frames


def runner_for(bundle, fps_target=None, targets=None):
    cache = ExplainerCache(bundle, "gradcam", targets or top(1), "logit")
    return LiveRunner(
        cache, HeatmapRenderer(), fps_target=fps_target, display=Display(enabled=False)
    )


def test_live_recording_keeps_wall_time(samples, tmp_path, lite0):
    record, log = tmp_path / "live.mp4", tmp_path / "live.jsonl"
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        source = open_source(server.url, timeout=3)
        try:
            summary = runner_for(lite0).run(source, record=record, log_path=log, duration=5)
        finally:
            source.close()
    frames, fps, size = count_frames(record)
    assert size == (640, 480)
    assert frames / fps == pytest.approx(summary.elapsed_s, rel=0.10)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == summary.frames_out > 10
    times = [r["time_s"] for r in records]
    assert times == sorted(times) and times[-1] <= summary.elapsed_s + 0.5
    ids = [r["frame"] for r in records]
    assert ids == sorted(set(ids)), "frame ids increase; skipped ids are dropped frames"


def test_live_loop_on_a_file_source_honours_max_frames(samples, lite0):
    source = open_source(samples / "vtest.avi")
    try:
        summary = runner_for(lite0, targets=top(3)).run(source, max_frames=12)
    finally:
        source.close()
    assert summary.frames_out == 12 and not summary.interrupted


def test_governor_moves_down_from_full_quality_under_an_impossible_target(samples, tmp_path):
    bundle = load_model("lite0")
    runner = runner_for(bundle, fps_target=500)
    source = open_source(samples / "megamind.mp4")
    log = tmp_path / "live.jsonl"
    try:
        started = time.perf_counter()
        summary = runner.run(source, max_frames=48, log_path=log)
    finally:
        source.close()
    assert runner.governor.changes >= 1
    # One schema on every line, whether or not the CAM step ran on that frame.
    records = [json.loads(line) for line in log.read_text().splitlines()]
    stages = {"read_wait", "preprocess", "cam", "render", "write"}
    assert all(set(r["timings_ms"]) == stages for r in records)
    assert any(r["timings_ms"]["cam"] == 0 for r in records), "some frames reused a map"
    for record in records:
        shown = {p["index"]: p["probability"] for p in record["predictions"]}
        target = record["target"]
        assert 0.0 <= target["probability"] <= 1.0 and "quality" in record
        if target["index"] in shown:
            assert target["probability"] == shown[target["index"]]
    assert runner.level.input_size < 224
    assert summary.quality == runner.level.describe()
    assert time.perf_counter() - started < 120


def test_governor_skips_sizes_a_flatten_head_cannot_take(samples):
    vgg = load_model("vgg16", weights="none")
    runner = runner_for(vgg, fps_target=500)
    source = open_source(samples / "vtest.avi")
    try:
        runner.run(source, max_frames=30)
    finally:
        source.close()
    assert runner.level.input_size == 224, "VGG16 with its dense head only runs at 224"
    assert runner.level.cam_every > 1


def test_a_snapshot_that_cannot_be_written_is_reported_and_the_run_goes_on(tmp_path, lite0):
    from types import SimpleNamespace

    import numpy as np

    runner = runner_for(lite0)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the snapshot folder should be")
    runner.snapshot_dir = blocker
    worker = SimpleNamespace(latest=np.zeros((8, 8, 3), np.uint8))
    runner._handle_key(ord("s"), worker)  # must not raise
    messages = runner.controls.recent_messages(time.perf_counter())
    assert any(m.startswith("snapshot failed: cannot write") for m in messages), messages
    assert not runner.controls.quit
    runner.snapshot_dir = tmp_path
    runner._handle_key(ord("s"), worker)
    assert len(list(tmp_path.glob("livecam-*.png"))) == 1
