"""Browser-camera mode: frames the page sends over a WebSocket become a live
source for the same loop that serves cameras and streams."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np

from livecam.errors import LivecamError
from livecam.media.sources import Frame, FrameSource, VideoInfo

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_FRAME_SIZE = (1920, 1080)
MIN_FRAME_SIDE = 32
NOMINAL_FPS = 30.0  # a browser camera has no fixed rate; the recording keeps wall time

# JPEG start-of-frame markers (baseline, extended, progressive, lossless, ...)
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class FrameRejected(LivecamError):
    """A frame from the browser is not a JPEG livecam accepts."""


def jpeg_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a JPEG's header, without decoding it (so an
    oversized image is refused before it takes any memory).

    Raises:
        FrameRejected: Not a JPEG, or no frame header.
    """
    if not data.startswith(b"\xff\xd8"):
        raise FrameRejected("the frame is not a JPEG")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise FrameRejected(f"corrupt JPEG header at byte {at}")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _SOF_MARKERS:
            if at + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if marker == 0xDA or length < 2:  # start of scan before any frame header
            break
        at += 2 + length
    raise FrameRejected("the JPEG has no frame header")


def decode_frame(data: bytes) -> np.ndarray:
    """The BGR image of a JPEG from the browser, within the size limits.

    Raises:
        FrameRejected: Too large, too small, not a JPEG, or undecodable.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise FrameRejected(f"frame of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    width, height = jpeg_size(data)
    max_w, max_h = MAX_FRAME_SIZE
    if width * height > max_w * max_h or max(width, height) > max(max_w, max_h):
        raise FrameRejected(f"frame of {width}x{height} exceeds {max_w}x{max_h}")
    if min(width, height) < MIN_FRAME_SIDE:
        raise FrameRejected(f"frame of {width}x{height} is smaller than {MIN_FRAME_SIDE} px")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameRejected(f"cannot decode the {width}x{height} JPEG")
    return image


class BrowserCameraSource(FrameSource):
    """Frames pushed by the page, newest first: one is kept, a newer one
    replaces it (counted as dropped). The size of the first frame is the
    source's; later frames of another size are resized to it.

    Iteration waits for frames and ends only on :meth:`close`.
    """

    name = "browser camera"

    def __init__(self) -> None:
        self.info = VideoInfo(0, 0, NOMINAL_FPS, None, live=True)
        self.dropped = 0
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._next_index = 0
        self._started_at: float | None = None
        self._closed = False

    def push(self, image: np.ndarray) -> int:
        """Queue ``image`` as the newest frame; returns its frame index."""
        with self._cond:
            if self._started_at is None:
                self._started_at = time.monotonic()
                height, width = image.shape[:2]
                self.info = VideoInfo(width, height, NOMINAL_FPS, None, live=True)
            elif image.shape[:2] != (self.info.height, self.info.width):
                image = cv2.resize(image, (self.info.width, self.info.height))
            if self._pending is not None:
                self.dropped += 1
            index = self._next_index
            self._next_index += 1
            self._pending = Frame(index, image, time.monotonic() - self._started_at)
            self._cond.notify_all()
            return index

    def wait_for_first(self, poll_s: float = 0.5) -> None:
        """Block until the first frame arrives (Ctrl-C still gets through)."""
        with self._cond:
            while self._started_at is None and not self._closed:
                self._cond.wait(poll_s)

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait(0.5)
                if self._closed:
                    return
                frame, self._pending = self._pending, None
            yield frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
