"""The window path for real: an X server (Xvfb), the OpenCV window, and keys typed
into it with xdotool. Skipped where Xvfb or xdotool are not installed (.ci/run
installs both)."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from mjpeg_server import MjpegServer
from test_video import count_frames

pytestmark = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool"
)


@pytest.fixture(scope="module")
def display():
    number = f":{90 + os.getpid() % 9}"
    server = subprocess.Popen(
        ["Xvfb", number, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)
    assert server.poll() is None, "Xvfb did not start"
    yield number
    server.terminate()
    server.wait(timeout=10)


def find_window(env: dict, process: subprocess.Popen, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        found = subprocess.run(
            ["xdotool", "search", "--name", "livecam"], env=env, capture_output=True, text=True
        )
        if found.stdout.strip():
            return found.stdout.split()[0]
        time.sleep(0.5)
    raise AssertionError("the livecam window never appeared")


def test_window_shows_the_overlay_and_q_quits(samples, tmp_path, display):
    env = {**os.environ, "DISPLAY": display}
    record = tmp_path / "rec.mp4"
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livecam",
                "webcam",
                "--source",
                server.url,
                "--duration",
                "120",
                "--record",
                str(record),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        window = find_window(env, process)
        started = time.monotonic()
        time.sleep(2)
        geometry = subprocess.run(
            ["xdotool", "getwindowgeometry", "--shell", window],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # The window opens at the frame's size (640x480 fits the 1280x800 screen).
        assert "WIDTH=640" in geometry and "HEIGHT=480" in geometry, geometry
        for key in ("space", "space", "plus", "q"):  # pause, resume, alpha up, quit
            subprocess.run(["xdotool", "key", "--window", window, key], env=env, check=True)
            time.sleep(0.5)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 60, "q ended the run long before --duration"
    assert "showed" in stderr
    frames, _, size = count_frames(record)
    assert frames > 0 and size == (640, 480)
