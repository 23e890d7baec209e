import itertools
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livecam.errors import SinkError, SourceError
from livecam.video import (
    ImageFolderSource,
    LiveSource,
    RealTimeSink,
    VideoFileSource,
    VideoSink,
    expand_inputs,
    open_source,
)
from mjpeg_server import MjpegServer


def count_frames(path: Path) -> tuple[int, float, tuple[int, int]]:
    """Decode a whole video: (frames, fps, (width, height))."""
    capture = cv2.VideoCapture(str(path))
    frames = 0
    size = (0, 0)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames += 1
        size = (frame.shape[1], frame.shape[0])
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps, size


def test_file_source_delivers_every_frame_in_order_with_exact_fps(samples):
    with open_source(samples / "megamind.mp4") as source:
        assert isinstance(source, VideoFileSource)
        assert source.info.fps == pytest.approx(23.976, abs=1e-3)
        assert (source.info.width, source.info.height) == (720, 528)
        frames = list(source)
    assert [f.index for f in frames] == list(range(48))
    assert frames[24].time_s == pytest.approx(24 / 23.976, abs=1e-6)
    assert not source.truncated


def test_image_folder_source_skips_and_reports_unreadable_files(samples, tmp_path):
    for name in ("a.jpg", "c.jpg"):
        (tmp_path / name).write_bytes((samples / "orange.jpg").read_bytes())
    (tmp_path / "b.jpg").write_text("not an image")
    with open_source(tmp_path) as source:
        assert isinstance(source, ImageFolderSource)
        frames = list(source)
    assert [f.index for f in frames] == [0, 2]
    assert "b.jpg" in source.unreadable[0]


def test_a_folder_whose_first_image_is_unreadable_skips_it(samples, tmp_path):
    (tmp_path / "a.jpg").write_text("not an image")
    (tmp_path / "b.jpg").write_bytes((samples / "orange.jpg").read_bytes())
    with open_source(tmp_path) as source:
        frames = list(source)
    assert [f.index for f in frames] == [1]
    assert "a.jpg" in source.unreadable[0]


def test_a_file_named_like_a_glob_is_a_file(samples, tmp_path):
    clip = tmp_path / "clip[1].avi"
    clip.write_bytes((samples / "vtest.avi").read_bytes())
    (tmp_path / "clip1.avi").write_bytes(b"the glob would pick this broken file")
    with open_source(clip) as source:
        assert sum(1 for _ in source) == 30


def test_a_file_one_frame_short_is_reported_truncated(samples, tmp_path):
    from livecam.video import VideoFileSource

    with VideoFileSource(samples / "vtest.avi") as source:
        for _ in zip(range(29), source, strict=False):
            pass
        assert source.frames_read == 29 and source.truncated
    with VideoFileSource(samples / "vtest.avi") as source:
        assert sum(1 for _ in source) == 30 and not source.truncated


def test_folders_of_videos_expand_to_their_videos(samples, tmp_path):
    (tmp_path / "one.mp4").write_bytes((samples / "megamind.mp4").read_bytes())
    (tmp_path / "two.avi").write_bytes((samples / "vtest.avi").read_bytes())
    assert expand_inputs([tmp_path]) == [tmp_path / "one.mp4", tmp_path / "two.avi"]
    assert expand_inputs([samples / "megamind.mp4"]) == [samples / "megamind.mp4"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.mp4", None, "does not exist"),
        ("random.mp4", np.random.default_rng(0).bytes(4096), "cannot open|no decodable"),
        ("empty.mp4", b"", "cannot open|no decodable"),
    ],
)
def test_broken_video_files_are_source_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        open_source(path)


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".mp4", "mp4v"), (".avi", "MJPG"), (".mkv", "XVID")]
)
def test_sink_picks_a_working_codec_and_finalises(tmp_path, suffix, codec):
    path = tmp_path / f"out{suffix}"
    with VideoSink(path, 23.976, (64, 48)) as sink:
        assert sink.codec == codec
        for i in range(12):
            sink.write(np.full((48, 64, 3), i * 20, np.uint8))
        assert not path.exists(), "the output appears only once finalised"
    frames, fps, size = count_frames(path)
    assert (frames, size) == (12, (64, 48))
    assert fps == pytest.approx(23.976, abs=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_sink_refuses_bad_frames_containers_and_its_input(tmp_path, samples):
    with (
        VideoSink(tmp_path / "a.mp4", 10, (64, 48)) as sink,
        pytest.raises(SinkError, match="80x48 does not fit"),
    ):
        sink.write(np.zeros((48, 80, 3), np.uint8))
    assert not (tmp_path / "a.mp4").exists(), "no frames, no file"
    with pytest.raises(SinkError, match="unknown video container"):
        VideoSink(tmp_path / "a.gif", 10, (64, 48))
    copy = tmp_path / "in.mp4"
    copy.write_bytes((samples / "megamind.mp4").read_bytes())
    with pytest.raises(SinkError, match="onto its input"):
        VideoSink(copy, 10, (64, 48), inputs=(copy,))
    with pytest.raises(SinkError, match="does not exist"):
        VideoSink(tmp_path / "nowhere" / "a.mp4", 10, (64, 48))


def test_real_time_sink_keeps_wall_time(tmp_path):
    path = tmp_path / "live.mp4"
    with RealTimeSink(VideoSink(path, 25.0, (32, 32))) as sink:
        for i in range(40):  # 25 fps for 1.6 s: the rate measured is the one reported
            sink.write(np.zeros((32, 32, 3), np.uint8), i / 25)
        for i in range(11):  # then 5 fps for 2.2 s: frames are duplicated
            sink.write(np.zeros((32, 32, 3), np.uint8), 1.6 + i / 5)
        for i in range(40):  # then 100 fps for 0.4 s: frames are skipped
            sink.write(np.zeros((32, 32, 3), np.uint8), 3.8 + i / 100)
    frames, fps, _ = count_frames(path)
    assert frames / fps == pytest.approx(4.2, abs=0.1)
    assert sink.duplicated > 0 and sink.skipped > 0


def test_real_time_sink_fills_a_gap_with_the_previous_frame(tmp_path):
    path = tmp_path / "gap.avi"
    first, second = np.full((32, 32, 3), 40, np.uint8), np.full((32, 32, 3), 220, np.uint8)
    with RealTimeSink(VideoSink(path, 4.0, (32, 32))) as sink:
        sink.write(first, 0.0)
        sink.write(second, 1.0)  # captured 1 s later: 4 frame slots have passed
    capture = cv2.VideoCapture(str(path))
    means = []
    while (frame := capture.read()[1]) is not None:
        means.append(frame.mean())
    capture.release()
    assert len(means) == 5 and sink.duplicated == 3
    assert all(abs(m - 40) < 10 for m in means[:4]), means  # what was on screen until 1 s
    assert abs(means[4] - 220) < 10


def test_live_stream_keeps_only_the_newest_frame(samples):
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        source = LiveSource(server.url, timeout=3)
        ids = []
        try:
            for frame in source:
                ids.append(frame.index)
                time.sleep(0.15)  # a slow consumer
                if len(ids) == 8:
                    break
        finally:
            source.close()
    assert source.info.live and (source.info.width, source.info.height) == (640, 480)
    assert source.dropped >= 8
    assert all(later - earlier >= 2 for earlier, later in itertools.pairwise(ids))


def test_a_stream_that_stops_sending_ends_with_a_reason(samples):
    with MjpegServer(samples / "megamind.mp4", fps=30, stop_after=1.0) as server:
        source = LiveSource(server.url, timeout=1.5)
        started = time.monotonic()
        frames = sum(1 for _ in source)
        source.close()
    assert frames > 5
    assert time.monotonic() - started < 10
    assert "no frame" in source.lost_reason or "stopped" in source.lost_reason


def test_refused_stream_and_missing_camera_are_source_errors():
    with pytest.raises(SourceError, match="cannot open stream"):
        open_source("http://127.0.0.1:9/video.mjpg", timeout=2)
    with pytest.raises(SourceError, match="no camera at index 7"):
        open_source(7)


def test_reconnect_reopens_a_lost_stream(samples):
    # Each connection gets 1.5 s of frames, then the server hangs.
    with MjpegServer(samples / "megamind.mp4", fps=30, stop_after=1.5) as server:
        source = LiveSource(server.url, timeout=1.0, reconnect=1)
        frames = list(source)
        source.close()
    assert source.reconnects_left == 0
    assert frames[-1].time_s - frames[0].time_s > 2.5, "frames came from a second connection"
    assert source.lost_reason


def test_readable_frames_decodes_rather_than_trusting_the_header(tmp_path):
    from livecam.video import readable_frames

    path = tmp_path / "cut.avi"
    rng = np.random.default_rng(5)
    with VideoSink(path, 10, (64, 48), codec="MJPG") as sink:
        for _ in range(20):
            sink.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])  # the header still announces 20
    capture = cv2.VideoCapture(str(path))
    announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    decoded = count_frames(path)[0]
    assert announced == 20 and decoded < 20
    assert readable_frames(path) == decoded
