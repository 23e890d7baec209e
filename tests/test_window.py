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


def log_lines(log) -> list[dict]:
    import json

    return [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]


def press(window: str, env: dict, key: str, settle: float = 0.7) -> None:
    subprocess.run(["xdotool", "key", "--window", window, key], env=env, check=True)
    time.sleep(settle)


def test_window_keys_each_do_what_they_say(samples, tmp_path, display):
    env = {**os.environ, "DISPLAY": display}
    record, log = tmp_path / "rec.mp4", tmp_path / "live.jsonl"
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
                "--top",
                "3",
                "--record",
                str(record),
                "--log",
                str(log),
            ],
            cwd=tmp_path,  # where "s" saves its snapshot
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
        for key in ("n", "m", "s", "plus", "minus", "minus"):
            press(window, env, key)
        press(window, env, "space", settle=0.5)  # pause: no frame is processed
        paused_at = len(log_lines(log))
        time.sleep(1.5)
        still = len(log_lines(log))
        press(window, env, "space", settle=1.0)  # resume
        resumed = len(log_lines(log))
        press(window, env, "p")
        press(window, env, "q", settle=0)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 60, "q ended the run long before --duration"
    records = log_lines(log)
    seen = lambda key: [r[key] for r in records]  # noqa: E731
    assert seen("rank")[0] == 1 and 2 in seen("rank"), "n shows the 2nd class"
    assert seen("rank")[-1] == 1, "p goes back to the 1st"
    assert seen("method")[0] == "gradcam" and "gradcam++" in seen("method"), "m switches method"
    alphas = seen("alpha")
    assert alphas[0] == 0.5 and 0.6 in alphas and alphas[-1] == 0.4, "+ then - twice"
    assert list(tmp_path.glob("livecam-*.png")), "s saves a snapshot in the working folder"
    assert still - paused_at <= 2, "space pauses: the log stops growing"
    assert resumed > still, "space again resumes"
    frames, _, size = count_frames(record)
    assert frames > 0 and size == (640, 480)
    assert "showed" in stderr
