"""A real MJPEG-over-HTTP camera on 127.0.0.1, serving frames of a video file.

IP cameras serve ``multipart/x-mixed-replace`` JPEG streams like this one; the
tests point ``livecam webcam --source http://...`` at it.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

BOUNDARY = b"livecamframe"
COUNTER_BITS = 16
COUNTER_BLOCK = 20  # px per bit, drawn along the bottom edge


def draw_counter(image: np.ndarray, value: int) -> None:
    """``value`` as black/white blocks along the bottom edge, in place."""
    height = image.shape[0]
    for bit in range(COUNTER_BITS):
        on = (value >> bit) & 1
        x = bit * COUNTER_BLOCK
        image[height - COUNTER_BLOCK : height, x : x + COUNTER_BLOCK] = 255 if on else 0


def read_counter(image: np.ndarray) -> int:
    """The value :func:`draw_counter` drew, read from the blocks' centres."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = grey.shape[1] / 640.0  # also from a reduced decode
    y = int(grey.shape[0] - COUNTER_BLOCK * scale / 2)
    value = 0
    for bit in range(COUNTER_BITS):
        x = int((bit * COUNTER_BLOCK + COUNTER_BLOCK / 2) * scale)
        value |= int(grey[y, x] > 127) << bit
    return value


class MjpegServer:
    """Serves ``video`` (looped, resized to ``size``) at ``fps`` until closed.

    ``stop_after`` seconds into each connection, the server stops sending but
    keeps the connection open (a stream that hangs). With ``counter``, each
    frame sent carries a frame counter (:func:`draw_counter`), and
    :attr:`sent_at` says when it was sent (glass-to-page latency).
    """

    def __init__(
        self,
        video: Path,
        fps: float = 30.0,
        size: tuple[int, int] = (640, 480),
        stop_after: float | None = None,
        counter: bool = False,
    ) -> None:
        self.counter = counter
        self.sent_at: dict[int, float] = {}  # counter value -> time.monotonic() sent
        self._sent = 0
        self.frames = self._load(video, size, encode=not counter)
        self.fps = fps
        self.stop_after = stop_after
        self.closed = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header(
                    "Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}"
                )
                self.end_headers()
                server.stream(self.wfile)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @staticmethod
    def _load(video: Path, size: tuple[int, int], encode: bool = True) -> list:
        capture = cv2.VideoCapture(str(video))
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            frames.append(_jpeg(frame) if encode else frame)
        capture.release()
        return frames

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/video.mjpg"

    def stream(self, out) -> None:
        started = time.monotonic()
        index = 0
        while not self.closed.is_set():
            elapsed = time.monotonic() - started
            if self.stop_after is not None and elapsed > self.stop_after:
                self.closed.wait(0.1)  # hang: connection open, no more frames
                continue
            jpeg = self._next_jpeg(index)
            try:
                out.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n")
                out.write(f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                out.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            index += 1
            delay = started + index / self.fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _next_jpeg(self, index: int) -> bytes:
        frame = self.frames[index % len(self.frames)]
        if not self.counter:
            return frame
        stamped = frame.copy()
        self._sent += 1
        value = self._sent % (1 << COUNTER_BITS)
        draw_counter(stamped, value)
        data = _jpeg(stamped)
        self.sent_at[value] = time.monotonic()
        return data

    def __enter__(self) -> MjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closed.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _jpeg(frame: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
