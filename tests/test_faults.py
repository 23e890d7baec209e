"""Fault injection: interrupts, broken inputs, odd frames, unsafe outputs, bad options.

Each test injects one fault and checks that what was written is kept and
playable, the user gets one clear line, and the exit code says what happened.
"""

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from livecam.cli import app
from mjpeg_server import MjpegServer
from test_video import count_frames

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors, result.output
    assert "Traceback" not in result.output
    return errors[-1]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0, codec="MJPG") -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def long_video(samples, tmp_path_factory) -> Path:
    """300 real frames (vtest looped), long enough to be interrupted mid-run."""
    capture = cv2.VideoCapture(str(samples / "vtest.avi"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    path = tmp_path_factory.mktemp("long") / "long.avi"
    return write_video(path, [frames[i % len(frames)] for i in range(300)])


def start_cli(*args, limit_file_size: int | None = None) -> subprocess.Popen:
    def limits() -> None:
        # as from a terminal: a shell starting pytest in the background ignores
        # SIGINT for it, which its children inherit (Python then never raises
        # KeyboardInterrupt)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if limit_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.Popen(
        [sys.executable, "-m", "livecam", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limits,
    )


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout=180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never reached {count} lines")


# 1. Interrupts -------------------------------------------------------------


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_annotate_keeps_a_playable_video(long_video, tmp_path, sig, code):
    out, log = tmp_path / "out.avi", tmp_path / "log.jsonl"
    process = start_cli("annotate", long_video, "-o", out, "--log", log)
    wait_for_lines(log, 10, process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    frames, _, size = count_frames(out)
    assert 10 <= frames < 300 and size == (768, 576)
    assert f"annotated {frames} frames" in stderr
    assert "interrupted" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_during_finalisation_is_ignored(long_video, tmp_path, second):
    out, log = tmp_path / "out.avi", tmp_path / "log.jsonl"
    process = start_cli("annotate", long_video, "-o", out, "--log", log)
    wait_for_lines(log, 120, process)  # enough frames that finalising them takes a while
    process.send_signal(signal.SIGINT)
    time.sleep(0.1)  # finalising: draining the writer, closing and checking the video
    process.send_signal(second)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"ignored {second.name} while finalising the outputs" in stderr
    frames, _, size = count_frames(out)
    assert 120 <= frames < 300 and size == (768, 576)
    assert f"annotated {frames} frames" in stderr, "every frame written is counted"
    assert "truncated" not in stderr, "an interrupted run is not a truncated file"
    assert len(log.read_text().splitlines()) == frames
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert "Traceback" not in stderr


def test_sigterm_during_webcam_recording_keeps_it(samples, tmp_path):
    record, log = tmp_path / "rec.mp4", tmp_path / "rec.jsonl"
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        process = start_cli(
            "webcam", "--source", server.url, "--no-display", "--record", record, "--log", log
        )
        wait_for_lines(log, 15, process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    frames, _, size = count_frames(record)
    assert frames > 0 and size == (640, 480)
    assert "showed" in stderr and "Traceback" not in stderr


def test_error_in_the_cam_step_keeps_the_frames_before_it(samples, tmp_path, monkeypatch):
    from livecam.explain import Explainer

    original = Explainer.explain_batch
    calls = {"n": 0}

    def failing(self, batch):
        calls["n"] += 1
        if calls["n"] == 7:  # the warm-up is call 1: frames 0-4 succeed
            raise RuntimeError("injected failure")
        return original(self, batch)

    monkeypatch.setattr(Explainer, "explain_batch", failing)
    out = tmp_path / "out.avi"
    result = invoke("annotate", samples / "vtest.avi", "-o", out)
    assert result.exit_code == 1
    line = one_line_error(result)
    assert "injected failure" in line and "after 5 frames" in line and str(out) in line
    assert count_frames(out)[0] == 5


# 2. Broken inputs ------------------------------------------------------------


def test_truncated_video_keeps_every_decodable_frame_and_warns(long_video, tmp_path):
    cut = tmp_path / "cut.avi"
    data = long_video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.avi"
    result = invoke("annotate", cut, "-o", out)
    assert result.exit_code == 0, result.output
    frames = count_frames(out)[0]
    assert 100 <= frames < 300
    assert frames == count_frames(cut)[0], "every decodable frame is kept"
    assert "warning:" in result.stderr and "truncated" in result.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("random.mp4", np.random.default_rng(0).bytes(50_000), "cannot open"),
        ("empty.mp4", b"", "cannot open"),
        ("missing.mp4", None, "does not exist"),
    ],
)
def test_broken_video_inputs_are_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = invoke("annotate", path, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 1
    assert message in one_line_error(result)
    assert not (tmp_path / "out.mp4").exists()


def test_folder_with_unreadable_images_processes_the_rest_and_fails(samples, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.jpg").write_bytes((samples / "orange.jpg").read_bytes())
    (folder / "2.jpg").write_text("truncated")
    out = tmp_path / "out.mp4"
    result = invoke("annotate", folder, "-o", out)
    assert result.exit_code == 1
    assert "skipped" in one_line_error(result) and "2.jpg" in result.stderr
    assert count_frames(out)[0] == 3


def test_refused_and_silent_streams(samples):
    result = invoke(
        "webcam", "--source", "http://127.0.0.1:9/x.mjpg", "--no-display", "--timeout", "2"
    )
    assert result.exit_code == 1 and "cannot open stream" in one_line_error(result)
    result = invoke("webcam", "--source", "rtsp://127.0.0.1:9/x", "--no-display", "--timeout", "2")
    assert result.exit_code == 1 and "cannot open stream" in one_line_error(result)
    with MjpegServer(samples / "megamind.mp4", fps=30, stop_after=2.0) as server:
        result = invoke("webcam", "--source", server.url, "--no-display", "--timeout", "2")
    assert result.exit_code == 1
    lost = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert lost and ("no frame from" in lost[0] or "stopped delivering frames" in lost[0])
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(tmp_path):
    result = invoke("--debug", "annotate", tmp_path / "missing.mp4")
    assert result.exit_code == 1
    assert result.exception is not None and "does not exist" in str(result.exception)


# 3. Odd frames ---------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        np.full((60, 80), 128, np.uint8),
        np.full((60, 80, 4), 128, np.uint8),
        np.full((60, 80, 3), 30000, np.uint16),
        np.full((1, 1, 3), 200, np.uint8),
        np.random.default_rng(1).integers(0, 256, (2160, 4096, 3), dtype=np.uint8),
        np.full((241, 321, 3), 90, np.uint8),
    ],
    ids=["gray", "bgra", "16-bit", "1x1", "4096x2160", "odd-size"],
)
def test_odd_images_are_explained_at_their_own_size(tmp_path, image):
    path = tmp_path / "odd.png"
    cv2.imwrite(str(path), image)
    result = invoke("image", path, "--json")
    assert result.exit_code == 0, result.output
    overlay = cv2.imread(str(tmp_path / next(p for p in os.listdir(tmp_path) if "overlay" in p)))
    assert overlay.shape[:2] == image.shape[:2]


def test_odd_sized_video_is_padded_not_cropped(tmp_path):
    # Image sequences keep odd sizes (a video writer would already have cropped them).
    source = tmp_path / "frames"
    source.mkdir()
    for i in range(6):
        cv2.imwrite(str(source / f"{i}.png"), np.full((241, 321, 3), 10 * i, np.uint8))
    result = invoke("annotate", source, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 0, result.output
    assert count_frames(tmp_path / "out.mp4")[::2] == (6, (322, 242))
    assert "padded" in result.stderr


def test_frame_size_change_midway_is_refused_and_the_start_kept(samples, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    photo = cv2.imread(str(samples / "orange.jpg"))
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), photo)
    cv2.imwrite(str(folder / "3.png"), cv2.resize(photo, (200, 100)))
    out = tmp_path / "out.mp4"
    result = invoke("annotate", folder, "-o", out)
    assert result.exit_code == 1
    assert "200x100 does not fit" in one_line_error(result)
    assert count_frames(out)[0] == 3


# 4. Outputs ------------------------------------------------------------------


def test_never_writes_onto_an_input_or_a_hard_link_to_it(samples, tmp_path):
    video = tmp_path / "in.avi"
    video.write_bytes((samples / "vtest.avi").read_bytes())
    link = tmp_path / "link.avi"
    os.link(video, link)
    before = video.read_bytes()
    for target in (video, link):
        result = invoke("annotate", video, "-o", target, "--overwrite")
        assert result.exit_code == 1 and "it is an input" in one_line_error(result)
    assert video.read_bytes() == before


def test_existing_outputs_are_refused_unless_overwrite(samples, tmp_path):
    out = tmp_path / "out.avi"
    out.write_bytes(b"precious")
    result = invoke("annotate", samples / "vtest.avi", "-o", out)
    assert result.exit_code == 1 and "--overwrite" in one_line_error(result)
    assert out.read_bytes() == b"precious"
    assert invoke("annotate", samples / "vtest.avi", "-o", out, "--overwrite").exit_code == 0
    assert count_frames(out)[0] == 30
    assert invoke("image", samples / "orange.jpg", "-o", tmp_path).exit_code == 0
    again = invoke("image", samples / "orange.jpg", "-o", tmp_path)
    assert again.exit_code == 1 and "--overwrite" in one_line_error(again)
    assert invoke("image", samples / "orange.jpg", "-o", tmp_path, "--overwrite").exit_code == 0
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "no temp files left"


def test_unwritable_output_folder_is_reported_before_any_work(samples, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("annotate", samples / "vtest.avi", "--out-dir", blocker / "sub")
    assert result.exit_code == 1 and "cannot create output directory" in one_line_error(result)
    result = invoke("image", samples / "orange.jpg", "-o", blocker / "sub")
    assert result.exit_code == 1 and "cannot create output directory" in one_line_error(result)


def test_full_disk_is_reported_and_the_partial_video_closed(samples, tmp_path):
    out = tmp_path / "out.avi"
    process = start_cli("annotate", samples / "megamind.mp4", "-o", out, limit_file_size=600_000)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 1
    assert "disk full or file size limit" in stderr and "Traceback" not in stderr
    frames = count_frames(out)[0]
    assert 0 < frames < 48
    assert f"holds {frames} of the 48 frames" in stderr


# 5. Long runs ------------------------------------------------------------------


def test_five_hundred_frames_trace_once(tmp_path, lite0):
    from livecam.explain import Explainer
    from livecam.video.annotate import annotate_video

    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), np.uint8), (0, 0), 5)
    source = write_video(tmp_path / "soak.avi", [np.roll(base, i, 1) for i in range(500)], 25)
    explainer = Explainer(lite0)
    summary = annotate_video(source, tmp_path / "out.avi", explainer, batch=4)
    assert summary.frames_written == 500
    assert explainer.engine.trace_count == 1


# 6. Bad options ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["annotate", "X", "--alpha", "1.5"], "alpha must be between 0 and 1"),
        (["webcam", "--fps-target", "-2"], "--fps-target must be positive"),
        (["annotate", "X", "--colormap", "nope"], "unknown colormap 'nope'; choose one of"),
        (["image", "X", "--top", "0"], "--top must be at least 1"),
        (["annotate", "X", "--smooth", "1.5"], "--smooth must be in [0, 1)"),
        (["annotate", "X", "--batch", "0"], "--batch must be at least 1"),
        (["webcam", "--max-frames", "0"], "--max-frames must be at least 1"),
        (["image", "X", "--input-size", "16"], "minimum 32"),
    ],
)
def test_bad_options_are_rejected_before_any_work(samples, args, message):
    args = [str(samples / "orange.jpg") if a == "X" else a for a in args]
    result = invoke(*args)
    assert result.exit_code == 1
    assert message in one_line_error(result)


def test_a_run_aborted_error_survives_pickling():
    # Ray hands a worker's error to the driver pickled: it must arrive whole
    import pickle

    from livecam.errors import RunAborted
    from livecam.video.pipeline import RunSummary

    error = RunAborted("clip.avi: boom after 3 frames", RunSummary(source="clip.avi"))
    error.summary.frames_written = 3
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.summary.frames_written == 3
