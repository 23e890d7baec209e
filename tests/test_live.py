import itertools
import json
import time

import numpy as np
import pytest

from livecam.cam.targets import top
from livecam.render import HeatmapRenderer
from livecam.video import open_source
from livecam.video.display import Display
from livecam.video.governor import QualityLevel
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


def run_live(runner, server, tmp_path, **options):
    log = tmp_path / "live.jsonl"
    source = open_source(server.url, timeout=5)
    try:
        summary = runner.run(source, log_path=log, **options)
    finally:
        source.close()
    return summary, [json.loads(line) for line in log.read_text().splitlines()]


def test_a_slow_cam_step_never_makes_the_video_wait(samples, tmp_path, lite0, monkeypatch):
    from livecam.explain import Explainer

    original = Explainer.explain_batch

    def slow(self, batch):  # a CAM step of 200 ms, whatever the model
        time.sleep(0.2)
        return original(self, batch)

    monkeypatch.setattr(Explainer, "explain_batch", slow)
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        summary, records = run_live(runner_for(lite0), server, tmp_path, duration=4)
    # The video keeps the source's pace...
    assert summary.fps >= 20, summary
    assert summary.frame_interval_p99_ms < 150
    # ...while a new map arrives about every 200 ms, shown on the frames in between.
    pairs = itertools.pairwise(records)
    changes = [new for old, new in pairs if new["map_seq"] != old["map_seq"]]
    assert 10 <= len(changes) <= 22, len(changes)
    gaps = np.diff([r["time_s"] for r in changes])
    assert 0.15 <= float(np.median(gaps)) <= 0.35
    assert all(r["map_age_ms"] >= 0 for r in records)
    assert float(np.median([r["map_age_ms"] for r in records])) >= 150
    # At most one map per 200 ms step (plus the model's own time), over the whole run.
    assert 2.5 <= summary.maps_per_s <= 5.5


def test_the_governor_changes_level_in_the_background(samples, tmp_path, lite0):
    from livecam.video.governor import CostCache

    cache = CostCache(tmp_path / "governor.json", machine="test box")
    runner = runner_for(lite0, fps_target=500)  # more maps than any level gives
    runner.costs = cache
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        summary, records = run_live(runner, server, tmp_path, duration=10)
    assert runner.governor.changes >= 1
    assert runner.level != QualityLevel(224) and summary.quality == runner.level.describe()
    levels = [r["quality"] for r in records]
    assert levels[0] == "224px float32" and levels[-1] == runner.level.describe()
    # The switch happened while the video ran: no frame waited for the rebuild.
    assert summary.fps >= 20 and summary.frame_interval_p99_ms < 150, summary
    remembered = CostCache(tmp_path / "governor.json", machine="test box")
    assert QualityLevel(224) in remembered.costs("lite0", "gradcam", [QualityLevel(224)])


class ScriptedDisplay:
    """A window stand-in that presses keys at given calls (there is no screen
    here; the real window is tested under Xvfb in test_window.py)."""

    enabled = True
    failure = None

    def __init__(self, keys: dict[int, str], pause_s: float = 0.0) -> None:
        self.keys = keys
        self.pause_s = pause_s
        self.calls = 0
        self.paused_since: float | None = None

    def show(self, image, wait_ms: int = 1) -> int:
        self.calls += 1
        if self.paused_since is not None:  # paused: let time pass, then resume
            time.sleep(wait_ms / 1000)
            if time.perf_counter() - self.paused_since >= self.pause_s:
                self.paused_since = None
                return ord(" ")
            return -1
        key = self.keys.get(self.calls, "")
        if key == " ":
            self.paused_since = time.perf_counter()
        return ord(key) if key else -1

    def close(self) -> None:
        pass


def test_time_paused_counts_neither_as_run_time_nor_as_a_slow_frame(samples, tmp_path, lite0):
    display = ScriptedDisplay({20: " "}, pause_s=1.5)
    runner = LiveRunner(
        ExplainerCache(lite0, "gradcam", top(1), "logit"), HeatmapRenderer(), display=display
    )
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        started = time.perf_counter()
        summary, _ = run_live(runner, server, tmp_path, duration=3)
        wall = time.perf_counter() - started
    assert runner.paused_s >= 1.5
    assert summary.elapsed_s == pytest.approx(3, abs=0.5)
    assert wall >= summary.elapsed_s + 1.4
    assert summary.frame_interval_p99_ms < 500, "the pause is not a 1.5 s frame"
    assert summary.fps >= 15


def test_a_window_that_fails_falls_back_to_the_status_line(samples, tmp_path, lite0, monkeypatch):
    import cv2

    from livecam.video.display import Display

    def broken(*args, **kwargs):
        raise cv2.error("the window system went away")

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(cv2, "namedWindow", broken)
    lines: list[str] = []
    runner = LiveRunner(
        ExplainerCache(lite0, "gradcam", top(1), "logit"),
        HeatmapRenderer(),
        display=Display(),
        status=lines.append,
    )
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        summary, _ = run_live(runner, server, tmp_path, duration=3)
    assert lines and "the window failed" in lines[0] and "running headless" in lines[0]
    assert any(line.startswith(f"{n} frames") for line in lines[1:] for n in range(1, 200))
    assert summary.frames_out > 30


def test_a_snapshot_that_cannot_be_written_is_reported_and_the_run_goes_on(tmp_path, lite0):
    from types import SimpleNamespace

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


def test_follow_moves_the_held_map_with_the_scene(samples, tmp_path, lite0, monkeypatch):
    """A 200 ms CAM step holds each map for about three frames of the sample
    clip, whose monarch slides right a fixed step a frame: without --follow the
    peak stays put between maps, with it the peak moves with the monarch."""
    from statistics import median

    from livecam.cam import classes
    from livecam.explain import Explainer

    boxes = json.loads((samples / "moving_monarch.json").read_text())["boxes_xyxy"]
    step = boxes[1][0] - boxes[0][0]
    original = Explainer.explain_batch

    def slow(self, batch):
        time.sleep(0.2)
        return original(self, batch)

    monkeypatch.setattr(Explainer, "explain_batch", slow)
    shifts = {}
    for follow in (False, True):
        cache = ExplainerCache(lite0, "gradcam", classes(lite0.labels, ["monarch"]), "logit")
        runner = LiveRunner(cache, HeatmapRenderer(), follow=follow, display=Display(enabled=False))
        with MjpegServer(samples / "moving_monarch.mp4", fps=15) as server:
            _, records = run_live(runner, server, tmp_path, duration=4)
        assert all((r["timings_ms"]["follow"] > 0) == follow for r in records)
        same_map = [
            new["peak"][0] - old["peak"][0]
            for old, new in itertools.pairwise(records)
            if new["map_seq"] == old["map_seq"] and new["frame"] == old["frame"] + 1
        ]
        assert len(same_map) >= 15, len(same_map)
        shifts[follow] = median(same_map)  # robust to the clip looping back
    assert shifts[False] == 0
    assert 0.5 * step <= shifts[True] <= 1.5 * step, shifts
