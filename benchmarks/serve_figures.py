"""``livecam serve``'s figures: video fps seen by 1 and by 5 viewers at once,
the server's CPU time per second with 0, 1 and 5 viewers (each frame is encoded
once for everyone: it should barely move), and glass-to-page latency.

    python benchmarks/serve_figures.py                 # ~1 minute on 2 cores
    python benchmarks/serve_figures.py --json docs/serve.json

Source: the tests' 30 fps 640x480 MJPEG camera on 127.0.0.1, with a frame
counter drawn into each frame; the server is ``livecam serve`` (lite0) in a
subprocess; viewers are raw-socket MJPEG readers in this process. Latency is
the time from the camera sending a frame to a viewer receiving the served
JPEG that shows it (the counter read back from the JPEG). The heatmap weight
is set to 0 over the API so the counter reads back exactly; the blend runs
all the same.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from livecam.timing import cpu_name, percentiles  # noqa: E402
from mjpeg_server import MjpegServer, read_counter  # noqa: E402
from web_client import MjpegViewer, get_json, post_json  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_server(camera_url: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "livecam", "serve", "--source", camera_url, "--port", "0"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if "serving on " in line:
            url = line.split("serving on ", 1)[1].split()[0]
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep draining
            return process, url
    raise SystemExit(f"livecam serve did not start (exit {process.wait()})")


def watch(url: str, seconds: float, sent_at: dict[int, float], results: list) -> None:
    """One viewer: parts received, distinct seqs, and latencies (s)."""
    viewer = MjpegViewer(url + "stream.mjpg", receive_buffer=None)
    latencies, seqs = [], set()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            part = viewer.next_part()
            received = time.monotonic()
            seqs.add(part.seq)
            grey = cv2.imdecode(np.frombuffer(part.jpeg, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_2)
            sent = sent_at.get(read_counter(grey))
            if sent is not None and 0 <= received - sent < 5:
                latencies.append(received - sent)
    finally:
        viewer.close()
    results.append({"fps": len(seqs) / seconds, "latencies": latencies})


def phase(url: str, pid: int, viewers: int, seconds: float, sent_at) -> dict:
    results: list = []
    threads = [
        threading.Thread(target=watch, args=(url, seconds, sent_at, results))
        for _ in range(viewers)
    ]
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    if viewers == 0:
        time.sleep(seconds)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
    latencies = [value for result in results for value in result["latencies"]]
    figures = {"viewers": viewers, "server_cpu_s_per_s": round(cpu, 3)}
    if results:
        fps = [result["fps"] for result in results]
        ms = percentiles([v * 1000 for v in latencies], [50, 95]) if latencies else {}
        figures.update(
            fps_per_viewer=[round(v, 1) for v in fps],
            min_fps=round(min(fps), 1),
            latency_ms={k: round(v, 1) for k, v in ms.items()},
            latency_samples=len(latencies),
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="per phase")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with MjpegServer(ROOT / "samples" / "megamind.mp4", fps=30, counter=True) as camera:
        process, url = start_server(camera.url)
        try:
            code, _ = post_json(url + "api/control", {"alpha": 0.0})
            assert code == 200
            time.sleep(3.0)  # past the first maps
            phases = [phase(url, process.pid, n, args.seconds, camera.sent_at) for n in (0, 1, 5)]
            status = get_json(url + "api/status")
        finally:
            process.terminate()
            process.wait(30)
    one, five = phases[1], phases[2]
    report = {
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "model": "lite0",
        "source": "MJPEG 640x480 30 fps on 127.0.0.1",
        "phases": phases,
        "five_vs_one_fps": round(five["min_fps"] / one["min_fps"], 3),
        "maps_per_s": status["maps_per_s"],
        "quality": status["quality"],
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
