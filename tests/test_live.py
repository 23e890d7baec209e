import json

import cv2
import numpy as np
import pytest

from livecam.cam.targets import top
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


def test_a_stream_that_misreports_its_rate_is_recorded_at_the_rate_it_delivers(
    samples, tmp_path, lite0
):
    record = tmp_path / "live.mp4"
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        source = open_source(server.url, timeout=3)
        try:
            # given: a stream that sends 30 frames a second and says 25 (FFmpeg's guess)
            assert source.info.fps == pytest.approx(25)
            summary = runner_for(lite0).run(source, record=record, duration=5)
        finally:
            source.close()
    frames, fps, _ = count_frames(record)
    # then: it is recorded at the 30 fps delivered, and as long as the run
    assert fps == pytest.approx(30, rel=0.05)
    assert frames / fps == pytest.approx(summary.elapsed_s, rel=0.05)


def test_a_recording_keeps_each_frame_delivered_in_real_time_once(tmp_path):
    from livecam.media.sinks import RealTimeSink, VideoSink

    def numbered(k: int) -> np.ndarray:  # k as 8 black or white blocks: JPEG keeps them
        image = np.zeros((48, 64, 3), np.uint8)
        for bit in range(8):
            image[:, bit * 8 : bit * 8 + 8] = 255 * ((k >> bit) & 1)
        return image

    def number(image: np.ndarray) -> int:
        return sum(int(image[24, bit * 8 + 4].mean() > 127) << bit for bit in range(8))

    # given: a stream that says 25 fps, bursts 10 stale frames as it starts, then sends 30
    burst = [k * 0.004 for k in range(10)]
    steady = [0.1 + k / 30 for k in range(150)]
    path = tmp_path / "recorded.avi"
    with RealTimeSink(VideoSink(path, 25.0, (64, 48), codec="MJPG")) as recording:
        for k, time_s in enumerate(burst + steady):
            recording.write(numbered(k), time_s)
    # then: 30 fps, and every frame after the burst is in the video exactly once
    capture = cv2.VideoCapture(str(path))
    fps, values = capture.get(cv2.CAP_PROP_FPS), []
    while (read := capture.read())[0]:
        values.append(number(read[1]))
    capture.release()
    assert fps == pytest.approx(30, rel=0.02)
    kept = [v for v in values if v >= len(burst)]
    assert kept == list(range(len(burst), len(burst) + len(steady)))
